"""The connector registry: names, helpful failures, optional dependencies, contract of entries."""

from __future__ import annotations

import pytest

from plantpulse.connectors import registry
from plantpulse.connectors.registry import ConnectorEntry, MissingDependencyError
from plantpulse.data.core.errors import PlantPulseError, UnknownNameError
from plantpulse.data.core.registry import Registry


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Registry[ConnectorEntry]:
    table: Registry[ConnectorEntry] = Registry("connector")
    for name in registry.CONNECTORS:
        table.add(name, registry.CONNECTORS.get(name))
    monkeypatch.setattr(registry, "CONNECTORS", table)
    return table


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"Unknown connector 'opcua2'\. Available: csv, images, logs, mat, opcua, parquet"):
        registry.get_connector("opcua2")


def test_duplicate_registration_is_an_error(fresh) -> None:
    with pytest.raises(PlantPulseError, match="registered twice"):
        registry.register_connector(ConnectorEntry("csv", "sensors", "x:y", "again"))


def test_missing_optional_dependency_fails_only_when_used(fresh) -> None:
    registry.register_connector(ConnectorEntry("fancy", "sensors", "plantpulse.nowhere:Fancy", "needs a package",
                                               requires=("plantpulse_no_such_module",),
                                               install_hint="pip install 'plantpulse[fancy]'"))
    assert "fancy" in registry.connector_names("sensors")
    with pytest.raises(MissingDependencyError, match=r"Install it with: pip install 'plantpulse\[fancy\]'"):
        registry.get_connector("fancy")


def test_kind_mismatch_names_the_right_connectors() -> None:
    with pytest.raises(PlantPulseError, match="reads logs, not sensors. Connectors for sensors: csv, mat, parquet"):
        registry.get_connector("logs", kind="sensors")


ENTRY_METHOD = {"sensors": "open", "logs": "read", "images": "read", "stream": "run"}


@pytest.mark.parametrize("name", registry.connector_names(), ids=str)
def test_every_entry_loads_a_class_with_its_name_and_method(name: str) -> None:
    cls = registry.get_connector(name)
    assert getattr(cls, "name", name) == name
    assert callable(getattr(cls, ENTRY_METHOD[registry.connector_entry(name).kind]))


def test_bad_entries_are_refused() -> None:
    with pytest.raises(PlantPulseError, match="kind must be one of"):
        ConnectorEntry("x", "video", "a:b", "")
    with pytest.raises(PlantPulseError, match="module:attribute"):
        ConnectorEntry("x", "logs", "a.b", "")
