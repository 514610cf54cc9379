"""Whole-image weld classes: intake by class folders and labels CSV, the clip/file split, a tiny
training run of the three learners and scoring with each, and review verdicts feeding the classifier."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from sqlalchemy import select

from plantpulse.connectors.images.classes import ClassLabels, parse_class_table, read_class_table
from plantpulse.connectors.images.validation import validate_image
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion, QuarantinedRow, WeldImage, WeldLabel
from plantpulse.model.moe.checkpoint import load_checkpoint
from plantpulse.model.weld.dataset import LabelledImage
from plantpulse.model.weld.inference import ImageDetections
from plantpulse.model.weld.splits import clip_key
from plantpulse.model.weld.synthetic import encode_png, synthetic_weld
from plantpulse.pipelines.evaluate.nets import load_plain
from plantpulse.pipelines.ingest.entry import ingest_image_upload
from plantpulse.pipelines.models.registry import promote_id
from plantpulse.pipelines.weld import service as weld_service
from plantpulse.pipelines.weld.classify import data as class_data
from plantpulse.pipelines.weld.classify.job import ClassifyRequest, run_classify
from plantpulse.pipelines.weld.classify.learners import Budgets
from plantpulse.pipelines.weld.classify.predict import classify_images, load_classifier


def write_welds(folder: Path, per_class: int, size: int = 40, seed: int = 0, nested: bool = True) -> Path:
    """``good/`` and ``bad/`` folders of painted welds (or all at the top with ``nested=False``)."""
    rng = np.random.default_rng(seed)
    for cls in ("good", "bad"):
        target = folder / cls if nested else folder
        target.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            weld = synthetic_weld(rng, size, defective=cls == "bad")
            (target / f"{cls}{i:03d}.png").write_bytes(encode_png(weld.rgb))
    return folder


def class_rows(db: Database) -> list[tuple[str, str, str, list]]:
    with db.session() as s:
        rows = s.execute(select(WeldImage.original_name, WeldLabel.source, WeldLabel.class_name, WeldLabel.boxes)
                         .join(WeldImage, WeldLabel.image_id == WeldImage.id).order_by(WeldLabel.id)).all()
    return [tuple(r) for r in rows]


def test_class_folders_become_class_labels_without_boxes_once(database: Database, tmp_path: Path) -> None:
    upload = write_welds(tmp_path / "upload", 3)
    first = ingest_image_upload(database, upload, image_store=tmp_path / "store",
                                classes=ClassLabels(from_folders=True))
    rows = class_rows(database)
    assert (first.loaded, first.quarantined) == (6, 0)
    assert {(name, source, cls) for name, source, cls, _ in rows} == {
        (f"{c}/{c}{i:03d}.png", "class", c) for c in ("good", "bad") for i in range(3)}
    assert all(boxes == [] for *_, boxes in rows)  # a class is never turned into a box
    assert first.summary["images_without_class"] == 0
    again = ingest_image_upload(database, upload, image_store=tmp_path / "store",
                                classes=ClassLabels(from_folders=True))
    assert again.status == "skipped" and len(class_rows(database)) == 6


def test_labels_csv_relabels_stored_images_and_quarantines_bad_rows(database: Database, tmp_path: Path) -> None:
    upload = write_welds(tmp_path / "upload", 2, nested=False)
    ingest_image_upload(database, upload, image_store=tmp_path / "store")  # images first, no classes
    assert class_rows(database) == []
    csv = tmp_path / "labels.csv"
    csv.write_text("file,class\ngood000.png,good\ngood001.png,good\nbad000.png,bad\n"
                   "missing.png,bad\nbad001.png,\nbad000.png,good\n", encoding="utf-8")
    result = ingest_image_upload(database, upload, image_store=tmp_path / "store", source="relabel",
                                 classes=ClassLabels(table=read_class_table(csv)))
    assert (result.loaded, result.duplicates) == (0, 4)
    assert {(n, c) for n, _, c, _ in class_rows(database)} == {
        ("good000.png", "good"), ("good001.png", "good"), ("bad000.png", "bad")}
    assert result.summary["images_without_class"] == 1  # bad001.png: its row had no class
    with database.session() as s:
        bad = s.execute(select(QuarantinedRow.source, QuarantinedRow.line, QuarantinedRow.reason)
                        .order_by(QuarantinedRow.line)).all()
    assert [(src, line) for src, line, _ in bad] == [("labels.csv", 5), ("labels.csv", 6), ("labels.csv", 7)]
    assert "not an image of the upload" in bad[0][2]
    assert "empty class" in bad[1][2]
    assert "already has class 'bad' (line 4)" in bad[2][2]


def test_labels_csv_without_class_column_is_refused() -> None:
    with pytest.raises(InputDataError, match=r"labels.csv:1: .*columns file, class; class missing"):
        parse_class_table("labels.csv", b"file,label\na.png,good\n")


def test_changed_class_adds_a_label_and_same_class_does_not(database: Database, tmp_path: Path) -> None:
    upload = write_welds(tmp_path / "upload", 1, nested=False)
    for text in ("file,class\ngood000.png,good\n", "file,class\ngood000.png,good\n\n", "file,class\ngood000.png,bad\n"):
        table = parse_class_table("labels.csv", text.encode())
        ingest_image_upload(database, upload, image_store=tmp_path / "store", classes=ClassLabels(table=table))
    assert [c for n, _, c, _ in class_rows(database) if n == "good000.png"] == ["good", "bad"]


def _item(name: str) -> class_data.ClassImage:
    source = Path(name).stem
    return class_data.ClassImage(LabelledImage(Path(name), (), "database", source, source), name[:4], name)


@pytest.mark.parametrize("how", ["clip", "file"])
def test_splits_keep_clips_together_only_under_clip(how: str) -> None:
    items = [_item(f"{cls}_{video}_mp4-{frame}_jpg.jpg") for cls in ("good", "badd")
             for video in ("A", "B", "C", "D", "E", "F") for frame in range(4)]
    split = class_data.split_images(items, how, seed=0)
    clips = {part: {clip_key(it.source) for it in split.part(part)} for part in ("train", "val", "test")}
    shared = (clips["train"] & clips["test"]) | (clips["train"] & clips["val"])
    assert (not shared) if how == "clip" else bool(shared)
    assert {it.source[:4] for it in split.test} == {"good", "badd"}  # stratified by class


def test_tiny_training_registers_every_learner_and_promotes_one(database: Database, tmp_path: Path) -> None:
    ingest_image_upload(database, write_welds(tmp_path / "upload", 14), image_store=tmp_path / "store",
                        classes=ClassLabels(from_folders=True))
    request = ClassifyRequest(split="clip", image_size=32, budget=Budgets(epochs=1, steps=2, batch_size=8))
    result = run_classify(database, tmp_path / "store", tmp_path / "models", tmp_path / "report", request,
                          echo=lambda _: None)
    with database.session() as s:
        versions = s.execute(select(ModelVersion.kind, ModelVersion.stage, ModelVersion.path)
                             .where(ModelVersion.name == "weld-class")).all()
    assert sorted((k, st) for k, st, _ in versions) == sorted(
        [(f"weld-class-{k}", "production" if result.winner == k else "candidate") for k in ("gbm", "cnn", "moe")])
    for learner, m in result.metrics.items():
        assert set(m) >= {"accuracy", "macro_f1", "confusion", "roc_auc", "val_macro_f1"}, learner
        assert np.sum(m["confusion"]) == sum(result.info["per_part"]["test"].values())
    paths = {k: Path(p) for k, _, p in versions}
    assert load_plain(paths["weld-class-cnn"]).spec.classes == ("bad", "good")
    assert load_checkpoint(paths["weld-class-moe"])[1].extra["classes"] == ["bad", "good"]
    with safe_open(str(paths["weld-class-gbm"]), "np") as f:  # trees as arrays, nothing pickled
        assert json.loads(f.metadata()["meta"])["classes"] == ["bad", "good"]
    assert "| roc_auc |" in result.report.read_text()
    assert (tmp_path / "report" / "weld-class-report.json").is_file()

    photos = sorted((tmp_path / "upload" / "bad").iterdir())[:2] + sorted((tmp_path / "upload" / "good").iterdir())[:2]
    with database.session() as s:
        ids = dict(s.execute(select(ModelVersion.kind, ModelVersion.id).where(ModelVersion.name == "weld-class")).all())
    for kind in ("weld-class-gbm", "weld-class-cnn", "weld-class-moe"):  # each kind scores once promoted
        promote_id(database, ids[kind])
        classifier = load_classifier(database)
        assert kind in classifier.label and classifier.classes == ("bad", "good")
        found = classify_images(classifier, photos)
        assert [r.file for r in found] == [p.name for p in photos]
        for r in found:
            assert sum(r.probs.values()) == pytest.approx(1.0, abs=1e-5)
            assert r.top == max(r.probs, key=r.probs.get)
            expected = "reject" if r.probs["bad"] >= classifier.threshold else "pass"
            assert r.verdict == expected


def test_predict_without_a_production_classifier_names_the_command(database: Database) -> None:
    with pytest.raises(InputDataError, match="plantpulse weld classify train"):
        load_classifier(database)


def test_one_class_is_refused_with_the_remedy(database: Database, tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    write_welds(upload, 2)
    for f in (upload / "bad").iterdir():
        f.unlink()
    ingest_image_upload(database, upload, image_store=tmp_path / "store", classes=ClassLabels(from_folders=True))
    with pytest.raises(InputDataError, match=r"1 class\(es\) \(good\).*--classes-from folders"):
        run_classify(database, tmp_path / "store", tmp_path / "m", tmp_path / "r", echo=lambda _: None)


def test_review_verdict_records_the_class_the_classifier_reads(database: Database, tmp_path: Path) -> None:
    version_file = tmp_path / "weld.safetensors"
    version_file.write_bytes(b"pretend checkpoint")
    upload = write_welds(tmp_path / "upload", 1, nested=True)
    ingest_image_upload(database, upload, image_store=tmp_path / "store", classes=ClassLabels(from_folders=True))
    with database.session() as s:
        version = weld_service.ensure_version(s, version_file, {}, {})
        image = s.scalar(select(WeldImage).where(WeldImage.original_name == "good/good000.png"))
        data = (tmp_path / "upload" / "good" / "good000.png").read_bytes()
        assert validate_image(data).sha256 == image.sha256
        inspection = weld_service.record_inspection(s, image, version, ImageDetections(image.sha256, 40, 40, ()),
                                                    0.5, ("Defect",))
        label = weld_service.save_review(s, inspection.id, "reject", ("Defect",), [], author="ana")
        assert label.class_name == "bad"
    with database.session() as s:
        classes = {it.name: it.class_name for it in class_data.labelled_images(s, tmp_path / "store")}
    assert classes == {"good/good000.png": "bad", "bad/bad000.png": "bad"}  # the review outranks the folder
