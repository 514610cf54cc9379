"""``plantpulse weld``: train, evaluate, predict, review, retrain and export the weld detector."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from plantpulse.data.core.config.settings import Settings
from plantpulse.model.weld.train import TrainConfig

_PATH = click.Path(path_type=Path)
SPLIT_CHOICES = ("clip", "grouped", "original")
SPLIT_HELP = ("Train/val/test protocol (default: settings weld.split, 'clip'). clip: no video clip or "
              "source photo in two parts; grouped: by source photo only, frames of one clip can sit "
              "in train and test (comparison); original: the published folders (comparison).")
_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)


@click.group()
def weld() -> None:
    """Weld inspection with a YOLO detector: defects, verdicts, reviews, retraining.

    Typical flow: `weld train` (or use the shipped checkpoint), `weld predict IMAGES`,
    review inspections in the dashboard or with `weld review`, then `weld retrain`.
    """


def _progress() -> Any:
    started = time.perf_counter()

    def report(row: dict[str, Any]) -> None:
        epoch, epochs = row["epoch"], row["epochs"]
        per_epoch = (time.perf_counter() - started) / max(epoch, 1)
        click.echo(f"epoch {epoch}/{epochs}  val mAP50 {row.get('metrics/mAP50(B)', 0):.3f}  "
                   f"mAP50-95 {row.get('metrics/mAP50-95(B)', 0):.3f}  "
                   f"{per_epoch / 60:.1f} min/epoch, ~{per_epoch * (epochs - epoch) / 60:.0f} min left",
                   err=True)

    return report


def _train_config(settings: Settings, **options: Any) -> TrainConfig:
    weld_settings = settings.weld
    return TrainConfig(
        model=options["model"] or weld_settings.model_yaml, weights=options["weights"],
        imgsz=options["imgsz"] or weld_settings.imgsz, epochs=options["epochs"] or weld_settings.epochs,
        batch=options["batch"] or weld_settings.batch, seed=options["seed"],
        patience=options["patience"], trust_pickle=options["trust_pickle"])


@weld.command()
@click.option("--data", type=_PATH, help="YOLO dataset folder (default: <datasets>/weld_surface_yolo).")
@click.option("--split", "strategy", type=click.Choice(list(SPLIT_CHOICES)), default=None,
              help=SPLIT_HELP)
@click.option("--model", help="Ultralytics model YAML (default: settings, yolo11n.yaml).")
@click.option("--weights", type=_FILE, help="Start from these weights: a PlantPulse .safetensors, "
              "or an Ultralytics .pt together with --trust-pickle.")
@click.option("--trust-pickle", is_flag=True, default=False,
              help="Allow --weights to be an Ultralytics .pt file. .pt files are Python pickles "
              "that can run any code when loaded: pass this only for files you trust.")
@click.option("--epochs", type=int, help="Epochs (default 30; ~1.6 min each at 320 px on 2 cores).")
@click.option("--imgsz", type=int, help="Input size in pixels, multiple of 32 (default 320).")
@click.option("--batch", type=int, help="Batch size (default 16).")
@click.option("--patience", type=int, default=10, show_default=True, help="Early-stop patience.")
@click.option("--seed", type=int, default=0, show_default=True, help="Training seed.")
@click.option("--int8/--fp16", default=False, show_default=True,
              help="Store int8 weights (half the size; metrics are measured after rounding).")
@click.option("--out", type=_PATH,
              help="Checkpoint path (default: <home>/models/weld/<version>.safetensors).")
@click.option("--register/--no-register", default=True, show_default=True,
              help="Record the new version (as a candidate) in the database.")
@click.option("--json", "json_out", type=_PATH, help="Also write the evaluation as JSON here.")
@click.pass_obj
def train(settings: Settings, data: Path | None, strategy: str | None, int8: bool, out: Path | None,
          register: bool, json_out: Path | None, **options: Any) -> None:
    """Train a detector, choose its verdict threshold on val, evaluate it on test."""
    from plantpulse.pipelines.weld import detector as weld_jobs
    from plantpulse.pipelines.weld.report import detection_table, verdict_table

    config = _train_config(settings, **options)
    config.check()  # refuse bad options (an untrusted .pt) before preparing the data
    if config.trust_pickle and config.weights is not None and config.weights.suffix == ".pt":
        click.echo(f"WARNING: loading {config.weights}, a pickle that can run code, because "
                   "--trust-pickle was given.", err=True)
    prepared = weld_jobs.prepare(settings, data, strategy or settings.weld.split)
    click.echo(f"Data ({prepared.split.strategy} split): {json.dumps(prepared.split.summary())}",
               err=True)
    model, report = weld_jobs.train_evaluate(settings, prepared, config, int8, _progress())
    path = weld_jobs.save_model(settings, model, out)
    click.echo(detection_table(report.detection))
    click.echo(verdict_table(report.verdict))
    minutes = model.card.train["wall_seconds"] / 60
    click.echo(f"Saved {model.version} to {path} (trained in {minutes:.1f} min)")
    if json_out:
        json_out.write_text(json.dumps(model.card.metrics, indent=2), encoding="utf-8")
    if register:
        from plantpulse.pipelines.weld import service as weld_service

        version = weld_service.register_checkpoint(settings, path)
        click.echo(f"Registered as {version.name} v{version.version} ({version.stage}).")


@weld.command()
@click.option("--checkpoint", type=_FILE, help="Checkpoint (default: settings, else the shipped one).")
@click.option("--onnx", type=_FILE, help="Evaluate verdicts with this ONNX file instead.")
@click.option("--data", type=_PATH, help="YOLO dataset folder (default: <datasets>/weld_surface_yolo).")
@click.option("--split", "strategy", type=click.Choice(list(SPLIT_CHOICES)), default=None,
              help=SPLIT_HELP)
@click.option("--part", type=click.Choice(["val", "test"]), default="test", show_default=True)
@click.option("--target-false-reject", type=float, help="Verdict operating point (default: settings).")
@click.option("--json", "json_out", type=_PATH, help="Also write the evaluation as JSON here.")
@click.pass_obj
def evaluate(settings: Settings, checkpoint: Path | None, onnx: Path | None, data: Path | None,
             strategy: str | None, part: str, target_false_reject: float | None,
             json_out: Path | None) -> None:
    """mAP per class and verdict false-accept / false-reject rates of a checkpoint."""
    from plantpulse.pipelines.weld import detector as weld_jobs
    from plantpulse.pipelines.weld.report import detection_table, verdict_table

    report = weld_jobs.evaluate_checkpoint(settings, checkpoint, onnx, data,
                                           strategy or settings.weld.split, part, target_false_reject)
    click.echo(detection_table(report.detection))
    click.echo(verdict_table(report.verdict))
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")


@weld.command()
@click.option("--checkpoint", type=_FILE, help="Checkpoint (default: settings, else the shipped one).")
@click.option("--out", type=_PATH, help="ONNX file to write (default: next to the checkpoint).")
@click.option("--imgsz", type=int, help="Input size (default: the checkpoint's).")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Compare ONNX and PyTorch boxes on synthetic images after export.")
@click.pass_obj
def export(settings: Settings, checkpoint: Path | None, out: Path | None, imgsz: int | None,
           check: bool) -> None:
    """Export a checkpoint to ONNX for edge stations (onnxruntime only, no torch needed)."""
    from plantpulse.pipelines.weld import detector as weld_jobs

    path, agreement = weld_jobs.export_checkpoint(settings, checkpoint, out, imgsz, check)
    click.echo(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if agreement is not None and agreement.boxes == 0:
        # A weakly trained detector may find nothing on the synthetic images: then the check
        # compared no boxes and proves nothing, which the user must be told.
        click.echo(f"ONNX vs PyTorch on {agreement.images} images: no box scored >= 0.1 on these "
                   "synthetic images, so no boxes were compared; check on real images with "
                   "`plantpulse weld evaluate --onnx FILE` (verdicts should match the checkpoint's).")
    elif agreement is not None:
        click.echo(f"ONNX vs PyTorch on {agreement.images} images: {agreement.matched}/"
                   f"{agreement.boxes} boxes matched, max corner difference "
                   f"{agreement.max_corner_px:.3f} px, max score difference {agreement.max_score:.4f}")


@weld.command()
@click.argument("images", nargs=-1, required=True, type=_PATH)
@click.option("--checkpoint", type=_FILE, help="Checkpoint (default: production version in the database).")
@click.option("--onnx", type=_FILE, help="Run this ONNX file with onnxruntime instead.")
@click.option("--store/--no-store", default=True, show_default=True,
              help="Save images and inspections in the database.")
@click.option("--json", "json_out", type=_PATH, help="Also write the inspections as JSON here.")
@click.option("--all-boxes", is_flag=True, default=False,
              help="List (and write to --json) boxes below the verdict threshold too; by default "
                   "only boxes at or above it are shown, the rest counted.")
@click.pass_obj
def predict(settings: Settings, images: tuple[Path, ...], checkpoint: Path | None,
            onnx: Path | None, store: bool, json_out: Path | None, all_boxes: bool) -> None:
    """Inspect weld images (files or folders): boxes, reject score, PASS/REJECT verdict.

    Each line: verdict, reject score against the threshold, the boxes at or above the threshold
    (the deciding one marked *), and how many weaker boxes were left out.
    """
    from plantpulse.pipelines.weld import inspect as weld_inspect
    from plantpulse.pipelines.weld.report import inspection_json, inspection_line

    paths, skipped = _expand(images)
    loaded = weld_inspect.choose_detector(settings, checkpoint, onnx, use_db=store)
    click.echo(f"Detector {loaded.detector.version} ({loaded.kind}), threshold "
               f"{loaded.threshold:.3f}, {len(paths)} files", err=True)
    rule = {"threshold": loaded.threshold, "reject_classes": loaded.reject_classes, "show_all": all_boxes}

    def echo(out: Any) -> None:
        click.echo(inspection_line(out.name, out.result, out.score, out.verdict, **rule))

    outcomes, rejected = weld_inspect.inspect_paths(settings, loaded, paths, store, echo)
    for bad in rejected:
        click.echo(f"SKIPPED {bad.reason}", err=True)
    _report_skipped(skipped)
    n_reject = sum(out.verdict == "reject" for out in outcomes)
    click.echo(f"{len(outcomes)} inspected ({n_reject} reject), {len(rejected)} invalid files, "
               f"{len(skipped)} not regular files{', stored' if store else ''}.", err=True)
    if json_out:
        rows = [{**inspection_json(out.name, out.result, out.score, out.verdict, **rule),
                 "inspection_id": out.inspection_id} for out in outcomes]
        json_out.write_text(json.dumps({"inspections": rows, "invalid": [
            {"file": bad.name, "reason": bad.reason} for bad in rejected], "skipped": [
            {"file": name, "reason": why} for name, why in skipped]}, indent=2), encoding="utf-8")


def _expand(items: tuple[Path, ...]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The image files named, or found by suffix in the named folders (recursively), and
    (file, why) of what is skipped: only regular files are read, links inside a folder are not
    followed, and a FIFO, socket or device is never opened (reading a FIFO waits for a writer)."""
    from plantpulse.connectors.images.archive import not_regular, regular_files
    from plantpulse.model.weld.dataset import IMAGE_SUFFIXES

    paths: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for item in items:
        if item.is_dir():
            found, others = regular_files(item)
            paths.extend(p for p, _ in found if p.suffix.lower() in IMAGE_SUFFIXES)
            skipped.extend((str(item / name), why) for name, why in others)
            continue
        try:  # named on the command line: a link is followed to what it names
            why = not_regular(item.stat().st_mode)
        except OSError:
            why = None  # missing or unreadable: the reader reports it with the cause
        if why is None:
            paths.append(item)
        else:
            skipped.append((str(item), why))
    return paths, skipped


def _report_skipped(skipped: list[tuple[str, str]]) -> None:
    for name, why in skipped:
        click.echo(f"SKIPPED {name}: {why}; only regular files are read", err=True)


@weld.command()
@click.argument("inspection_id", type=int)
@click.option("--verdict", type=click.Choice(["pass", "reject"]), required=True)
@click.option("--boxes", "boxes_json", help='Corrected boxes as JSON, e.g. \'[{"class_name": '
              '"Defect", "box": [x1, y1, x2, y2]}]\'; default: accept the model\'s boxes.')
@click.option("--author", default="", help="Who reviewed it.")
@click.pass_obj
def review(settings: Settings, inspection_id: int, verdict: str, boxes_json: str | None,
           author: str) -> None:
    """Store an engineer's review of one inspection (used by `weld retrain`)."""
    from plantpulse.data.core.errors import InputDataError
    from plantpulse.model.weld.checkpoint import read_card
    from plantpulse.pipelines.weld import service as weld_service
    from plantpulse.pipelines.weld.detector import checkpoint_path

    try:
        boxes = json.loads(boxes_json) if boxes_json is not None else None
    except json.JSONDecodeError as err:
        raise InputDataError(f"--boxes is not valid JSON: {err}.") from err
    with weld_service.database(settings).session() as session:
        current = weld_service.production_version(session)
        names = read_card(Path(current.path) if current else checkpoint_path(settings, None))["names"]
        label = weld_service.save_review(session, inspection_id, verdict, names, boxes, author)
        click.echo(f"Review {label.id} saved: {verdict}, {len(label.boxes)} boxes.")


@weld.command()
@click.option("--data", type=_PATH, help="Base YOLO dataset (default: <datasets>/weld_surface_yolo).")
@click.option("--epochs", type=int, default=10, show_default=True, help="Fine-tuning epochs.")
@click.option("--from-scratch", is_flag=True, help="Train from the model YAML, not the current weights.")
@click.option("--min-gain", type=float, default=0.0, show_default=True,
              help="Promote only if test mAP50-95 improves by more than this.")
@click.pass_obj
def retrain(settings: Settings, data: Path | None, epochs: int, from_scratch: bool,
            min_gain: float) -> None:
    """Train a new version on base + reviewed images; promote it only if it beats production."""
    from plantpulse.pipelines.weld import inspect as weld_inspect
    from plantpulse.pipelines.weld import retrain as weld_retrain
    from plantpulse.pipelines.weld.report import detection_table

    current = weld_inspect.choose_detector(settings, None, None, use_db=True)
    config = TrainConfig(model=settings.weld.model_yaml, imgsz=settings.weld.imgsz,
                         epochs=epochs, batch=settings.weld.batch,
                         weights=None if from_scratch else current.path)
    outcome = weld_retrain.retrain(settings, data, config, min_gain, _progress())
    click.echo(f"Reviewed images used: {outcome.reviewed_used}; skipped: {outcome.reviewed_skipped}")
    click.echo("Current:\n" + detection_table(outcome.current.detection))
    click.echo("Candidate:\n" + detection_table(outcome.candidate.detection))
    state = "PROMOTED to production" if outcome.promoted else "kept as candidate"
    click.echo(f"Candidate {outcome.candidate_path.name} {state}: {outcome.reason}")


@weld.group()
def classify() -> None:
    """Whole-image weld classifier, trained from class-labelled images (class folders, a labels
    CSV, or review verdicts); boxes keep training the detector."""


@classify.command("train")
@click.option("--split", type=click.Choice(["clip", "file"]), default="clip", show_default=True,
              help="clip: no video clip (read from the file name) or source photo in two parts, one group per "
                   "file when no name is a video frame; file: by source photo only.")
@click.option("--epochs", type=int, default=8, show_default=True, help="Epochs per learner (early-stopped).")
@click.option("--steps", type=int, default=40, show_default=True, help="Optimiser steps per epoch.")
@click.option("--imgsz", type=click.IntRange(16, 256), default=64, show_default=True,
              help="Images are resized to this square (a multiple of 8).")
@click.option("--batch", type=click.IntRange(2), default=32, show_default=True, help="Batch size.")
@click.option("--seed", type=int, default=0, show_default=True, help="Split and training seed.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("weld-class-report"), show_default=True, help="Folder of the report (Markdown + JSON).")
@click.option("--no-promote", is_flag=True, help="Register every version as a candidate only.")
@click.pass_obj
def classify_train(settings: Settings, split: str, epochs: int, steps: int, imgsz: int, batch: int, seed: int,
                   out_dir: Path, no_promote: bool) -> None:
    """Train gradient boosting on image features, the plain CNN and the MoE image path on the same
    split; register each as a `weld-class` version and promote the best on validation."""
    from plantpulse.data.core.errors import ConfigError
    from plantpulse.pipelines.weld import service as weld_service
    from plantpulse.pipelines.weld.classify.job import ClassifyRequest, run_classify
    from plantpulse.pipelines.weld.classify.learners import Budgets

    if imgsz % 8:
        raise ConfigError(f"--imgsz {imgsz} is not a multiple of 8 (the MoE's image tokens are 8 px); try "
                          f"{imgsz - imgsz % 8 or 8}.")
    request = ClassifyRequest(split=split, image_size=imgsz, promote=not no_promote,
                              budget=Budgets(epochs=epochs, steps=steps, batch_size=batch, seed=seed))
    run_classify(weld_service.database(settings), settings.image_store, settings.model_dir / "weld-class",
                 out_dir, request, echo=click.echo)


@classify.command("predict")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image instead of a table.")
@click.pass_obj
def classify_predict(settings: Settings, images: tuple[Path, ...], as_json: bool) -> None:
    """Classify weld photos (files or folders) with the production `weld-class` version: class
    probabilities and, for a good/bad classifier, pass/reject at its validation-chosen threshold."""
    from plantpulse.pipelines.weld import service as weld_service
    from plantpulse.pipelines.weld.classify.predict import classify_images, load_classifier

    paths, skipped = _expand(images)
    _report_skipped(skipped)
    classifier = load_classifier(weld_service.database(settings))
    results = classify_images(classifier, paths)
    if as_json:
        for r in results:
            click.echo(json.dumps({"file": r.file, "class": r.top, "verdict": r.verdict, "probs": r.probs}))
        return
    threshold = "" if classifier.threshold is None else f"; reject when P(not good) >= {classifier.threshold:.3f}"
    click.echo(f"{classifier.label}{threshold}")
    for r in results:
        probs = ", ".join(f"{c} {p:.2f}" for c, p in r.probs.items())
        click.echo(f"{r.file}: {r.top}" + (f" -> {r.verdict}" if r.verdict else "") + f" ({probs})")
