"""`weld predict` output follows the gallery's rule: boxes below the threshold are counted, not
listed or written, unless --all-boxes; the deciding box is marked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_weld_cli import env, images, run  # noqa: F401  (fixtures)

from plantpulse.model.weld.inference import Detection, ImageDetections
from plantpulse.pipelines.weld.report import inspection_json, inspection_line


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, make_detector) -> Path:
    """An untrained detector (class bias zeroed: every box scores 0.5) with threshold 0.6."""
    return make_detector(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", 0.6)


RESULT = ImageDetections("0" * 64, 200, 200, (
    Detection(2, "Defect", 0.81, (20.0, 20.0, 60.0, 60.0)),
    Detection(1, "Good Weld", 0.7, (20.0, 120.0, 60.0, 180.0)),
    Detection(0, "Bad Weld", 0.04, (120.0, 120.0, 180.0, 180.0)),
    Detection(2, "Defect", 0.02, (100.0, 10.0, 150.0, 50.0)),
))


def test_line_lists_only_boxes_at_or_above_the_threshold() -> None:
    line = inspection_line("a.jpg", RESULT, 0.81, "reject", 0.5)
    assert line == "REJECT  0.81 >= 0.50  a.jpg  [*Defect 0.81, Good Weld 0.70]; 2 below the threshold not listed"
    every = inspection_line("a.jpg", RESULT, 0.81, "reject", 0.5, show_all=True)
    assert "Bad Weld 0.04, Defect 0.02]" in every and "not listed" not in every


def test_json_row_leaves_out_boxes_below_the_threshold() -> None:
    row = inspection_json("a.jpg", RESULT, 0.81, "reject", 0.5)
    assert [b["score"] for b in row["boxes"]] == [0.81, 0.7]
    assert row["boxes_below_threshold"] == 2 and row["threshold"] == 0.5
    assert row["deciding_box"]["score"] == 0.81
    every = inspection_json("a.jpg", RESULT, 0.81, "reject", 0.5, show_all=True)
    assert len(every["boxes"]) == 4 and every["boxes_below_threshold"] == 0


def test_predict_json_has_no_box_below_the_threshold(capsys: pytest.CaptureFixture[str],
                                                     env: list[str], images: list[Path],  # noqa: F811 - pytest fixtures imported by name
                                                     tmp_path: Path) -> None:
    default, every = tmp_path / "default.json", tmp_path / "all.json"
    folder = str(images[0].parent)
    assert run(capsys, *env, "weld", "predict", folder, "--no-store", "--json", str(default))[0] == 0
    assert run(capsys, *env, "weld", "predict", folder, "--no-store", "--json", str(every),
               "--all-boxes")[0] == 0
    rows = json.loads(default.read_text())["inspections"]
    rows_all = json.loads(every.read_text())["inspections"]
    assert all(b["score"] >= r["threshold"] for r in rows for b in r["boxes"])
    hidden = sum(r["boxes_below_threshold"] for r in rows)
    assert hidden > 0  # the untrained detector's boxes all score 0.5, below 0.6
    assert sum(len(r["boxes"]) for r in rows_all) == sum(len(r["boxes"]) for r in rows) + hidden

