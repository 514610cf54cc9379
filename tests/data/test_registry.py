from __future__ import annotations

import pytest

from plantpulse.data.core.errors import PlantPulseError, UnknownNameError
from plantpulse.data.core.registry import Registry


def test_lookup_and_helpful_unknown_name() -> None:
    reg: Registry[int] = Registry("connector")
    reg.add("csv", 1)
    reg.add("opcua", 2)
    assert reg.get("csv") == 1 and "opcua" in reg and len(reg) == 2
    with pytest.raises(UnknownNameError, match=r"^Unknown connector 'opcua2'. Available: csv, opcua.$"):
        reg.get("opcua2")


def test_duplicate_registration_is_an_error() -> None:
    reg: Registry[int] = Registry("head")
    reg.register("rul")(1)
    with pytest.raises(PlantPulseError, match="head 'rul' is registered twice"):
        reg.register("rul")(2)
