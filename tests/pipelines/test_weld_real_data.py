"""A tiny training run on the real weld photos: mAP is computed and inspections are stored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion, WeldImage, WeldInspection
from plantpulse.pipelines.cli.main import main

PER_SPLIT = {"train": 64, "valid": 16, "test": 16}


def subset(source: Path, target: Path) -> Path:
    """A small Roboflow-style copy of the dataset (image links, label copies)."""
    for split, count in PER_SPLIT.items():
        for sub in ("images", "labels"):
            (target / split / sub).mkdir(parents=True)
        for image in sorted((source / split / "images").iterdir())[:count]:
            (target / split / "images" / image.name).symlink_to(image)
            label = source / split / "labels" / f"{image.stem}.txt"
            shutil.copyfile(label, target / split / "labels" / label.name)
    shutil.copyfile(source / "classes.yaml", target / "classes.yaml")
    return target


@pytest.mark.slow
@pytest.mark.real_data
def test_tiny_real_run_computes_map_and_stores_inspections(
        datasets_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = subset(datasets_dir / "weld_surface_yolo", tmp_path / "weld")
    url = f"sqlite:///{tmp_path / 'pp.db'}"
    Database(url).upgrade()
    base = ["--home", str(tmp_path / "home"), "--db", url, "weld"]
    checkpoint, report = tmp_path / "tiny.safetensors", tmp_path / "metrics.json"
    code = main([*base, "train", "--data", str(data), "--split", "original", "--epochs", "1",
                 "--imgsz", "160", "--out", str(checkpoint), "--json", str(report)])
    assert code == 0, capsys.readouterr().err[-2000:]
    metrics = json.loads(report.read_text())["detection"]
    assert metrics["n_images"] == PER_SPLIT["test"]
    assert 0.0 <= metrics["map50_95"] <= metrics["map50"] <= 1.0
    assert {row["name"] for row in metrics["per_class"]} == {"Bad Weld", "Good Weld", "Defect"}
    test_images = sorted((data / "test" / "images").iterdir())[:8]
    code = main([*base, "predict", "--checkpoint", str(checkpoint), *map(str, test_images)])
    assert code == 0, capsys.readouterr().err[-2000:]
    with Database(url).session() as session:
        assert session.query(WeldImage).count() == 8
        inspections = session.query(WeldInspection).all()
        assert len(inspections) == 8
        assert all(row.verdict in ("pass", "reject") for row in inspections)
        assert all(isinstance(row.boxes, list) for row in inspections)
        assert session.query(ModelVersion).filter_by(name="weld-yolo").count() == 1
