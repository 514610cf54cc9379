"""The Models page's Promote and Roll back buttons run the same registry transactions as the CLI."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select

from plantpulse.app.views import models as page
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import register_model_version
from plantpulse.data.store.schema import ModelVersion


def test_promote_and_roll_back_buttons(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    db = Database(url)
    db.upgrade()
    with db.session() as s:
        ids = [register_model_version(s, name="rul", kind="baseline", path=f"m{i}").id for i in (1, 2)]
    ctx = SimpleNamespace(url=url)
    assert page.promote(ctx, ids[0]) == "rul v1 promoted: it is now the production version."
    assert page.promote(ctx, ids[1]) == ("rul v2 promoted: it is now the production version. "
                                         "(rul v1: production -> archived)")
    assert page.roll_back(ctx, "rul") == ("rul v1 rolled back to: it is now the production version. "
                                          "(rul v2: production -> archived)")
    with db.session() as s:
        assert [v.stage for v in s.scalars(select(ModelVersion).order_by(ModelVersion.version))] == [
            "production", "archived"]
    db.dispose()
