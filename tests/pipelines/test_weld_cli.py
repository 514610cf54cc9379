"""`plantpulse weld ...` end to end on tiny synthetic images and an untrained tiny checkpoint."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion, WeldInspection, WeldLabel
from plantpulse.model.weld.synthetic import synthetic_weld, write_synthetic_dataset
from plantpulse.pipelines.cli.main import main

COMMANDS = ("train", "evaluate", "predict", "review", "retrain", "export")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, make_detector) -> Path:
    """An untrained detector (class bias zeroed: it finds boxes everywhere) with a threshold."""
    return make_detector(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", 0.5)


@pytest.fixture
def env(tmp_path: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Global options pointing at a fresh home and migrated SQLite database."""
    url = f"sqlite:///{tmp_path / 'pp.db'}"
    Database(url).upgrade()
    monkeypatch.setenv("PLANTPULSE_WELD__CHECKPOINT", str(checkpoint))
    monkeypatch.delenv("PLANTPULSE_CONFIG", raising=False)
    return ["--home", str(tmp_path / "home"), "--db", url]


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for index in range(3):
        path = folder / f"weld{index}.png"
        Image.fromarray(synthetic_weld(rng, size=96).rgb).save(path)
        paths.append(path)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return [*paths, folder / "broken.jpg"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_weld_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "weld", "--help")
    assert code == 0
    assert all(command in out for command in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_subcommand_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, "weld", command, "--help")
    assert code == 0 and "Usage: plantpulse weld" in out


def test_predict_without_storing(capsys: pytest.CaptureFixture[str], env: list[str],
                                 images: list[Path], tmp_path: Path) -> None:
    report = tmp_path / "out.json"
    code, out, err = run(capsys, *env, "weld", "predict", str(images[0].parent), "--no-store",
                         "--json", str(report))
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3
    assert "SKIPPED broken.jpg" in err and "1 invalid files" in err
    data = json.loads(report.read_text())
    assert len(data["inspections"]) == 3 and data["invalid"][0]["file"].endswith("broken.jpg")
    assert {row["verdict"] for row in data["inspections"]} <= {"pass", "reject"}


@pytest.fixture
def special_files(images: list[Path]) -> tuple[Path, Path]:
    """A FIFO named like an image and a symbolic link to a real image, beside the images."""
    folder = images[0].parent
    os.mkfifo(folder / "pipe.png")
    (folder / "link.png").symlink_to(images[0])
    return folder / "pipe.png", folder / "link.png"


def run_within(capsys: pytest.CaptureFixture[str], fifo: Path, *argv: str) -> tuple[int, str, str]:
    """``run``, failing instead of hanging when the command blocks (on opening ``fifo``)."""
    done: dict[str, int] = {}
    worker = threading.Thread(target=lambda: done.update(code=main(list(argv))), daemon=True)
    worker.start()
    worker.join(120)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # end of file for the stuck reader
        worker.join(30)
        pytest.fail(f"plantpulse {' '.join(argv)} blocked reading the FIFO {fifo.name}")
    out = capsys.readouterr()
    return done["code"], out.out, out.err


def test_predict_skips_fifos_and_links(capsys: pytest.CaptureFixture[str], env: list[str],
                                       images: list[Path], special_files: tuple[Path, Path],
                                       tmp_path: Path) -> None:
    fifo, link = special_files
    report = tmp_path / "out.json"
    code, out, err = run_within(capsys, fifo, *env, "weld", "predict", str(fifo.parent), "--no-store",
                                "--json", str(report))
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3  # the three real images, not the link to one
    assert f"SKIPPED {fifo}: a named pipe (FIFO)" in err
    assert f"SKIPPED {link}: a symbolic link (not followed)" in err
    assert "2 not regular files" in err
    skipped = json.loads(report.read_text())["skipped"]
    assert [row["file"] for row in skipped] == [str(link), str(fifo)]


def test_predict_skips_a_fifo_named_on_the_command_line(capsys: pytest.CaptureFixture[str], env: list[str],
                                                        images: list[Path],
                                                        special_files: tuple[Path, Path]) -> None:
    fifo, link = special_files
    code, out, err = run_within(capsys, fifo, *env, "weld", "predict", str(fifo), str(link), "--no-store")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1  # a link named on the command line is followed
    assert f"SKIPPED {fifo}: a named pipe (FIFO)" in err


def test_classify_predict_skips_fifos_and_links(capsys: pytest.CaptureFixture[str], env: list[str],
                                                images: list[Path], special_files: tuple[Path, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from plantpulse.pipelines.weld.classify import predict as classify_predict

    def uniform(pixels: np.ndarray) -> np.ndarray:
        return np.full((len(pixels), 2), 0.5)

    classifier = classify_predict.Classifier("weld-class v1 (test)", ("bad", "good"), 32, 0.5, uniform)
    monkeypatch.setattr(classify_predict, "load_classifier", lambda _db: classifier)
    (images[-1]).unlink()  # broken.jpg: this command has no per-file rejection
    fifo, link = special_files
    code, out, err = run_within(capsys, fifo, *env, "weld", "classify", "predict", str(fifo.parent))
    assert code == 0, err
    assert sorted(line.split(":")[0] for line in out.splitlines()[1:]) == ["weld0.png", "weld1.png", "weld2.png"]
    assert f"SKIPPED {fifo}: a named pipe (FIFO)" in err
    assert f"SKIPPED {link}: a symbolic link (not followed)" in err


def test_predict_stores_and_review(capsys: pytest.CaptureFixture[str], env: list[str],
                                   images: list[Path]) -> None:
    code, _, err = run(capsys, *env, "weld", "predict", *map(str, images))
    assert code == 0 and "stored" in err
    db = Database(env[3])
    with db.session() as session:
        inspections = session.query(WeldInspection).all()
        versions = session.query(ModelVersion).all()
        assert len(inspections) == 3
        assert [(v.name, v.stage) for v in versions] == [("weld-yolo", "production")]
        first = inspections[0].id
    code, out, _ = run(capsys, *env, "weld", "review", str(first), "--verdict", "reject",
                       "--boxes", '[{"class_name": "Defect", "box": [1, 1, 20, 20]}]')
    assert code == 0 and "1 boxes" in out
    with db.session() as session:
        assert session.query(WeldLabel).one().verdict == "reject"
    code, _, err = run(capsys, *env, "weld", "review", str(first), "--verdict", "pass",
                       "--boxes", "[not json")
    assert code == 2 and "--boxes is not valid JSON" in err


def test_export_checks_agreement(capsys: pytest.CaptureFixture[str], env: list[str],
                                 checkpoint: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "tiny.onnx"
    code, out, _ = run(capsys, *env, "weld", "export", "--checkpoint", str(checkpoint),
                       "--out", str(out_path))
    assert code == 0 and out_path.is_file()
    assert "ONNX vs PyTorch on 8 images" in out


def test_evaluate_on_synthetic_data(capsys: pytest.CaptureFixture[str], env: list[str],
                                    tmp_path: Path) -> None:
    data = write_synthetic_dataset(tmp_path / "data", {"train": 4, "valid": 6, "test": 6}, size=96)
    code, out, _ = run(capsys, *env, "weld", "evaluate", "--data", str(data), "--split",
                       "original", "--json", str(tmp_path / "eval.json"))
    assert code == 0
    assert "Detection on test (6 images)" in out and "false reject" in out
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["verdict"]["test"]["n_good"] + report["verdict"]["test"]["n_defective"] == 6


def test_missing_checkpoint_is_a_clear_error(capsys: pytest.CaptureFixture[str], env: list[str],
                                             images: list[Path], tmp_path: Path) -> None:
    code, _, err = run(capsys, *env, "weld", "export", "--checkpoint", str(tmp_path / "no.safetensors"))
    assert code == 2 and "does not exist" in err


@pytest.mark.slow
def test_train_predict_review_retrain(capsys: pytest.CaptureFixture[str], env: list[str],
                                      images: list[Path], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_synthetic_dataset(tmp_path / "data", {"train": 8, "valid": 6, "test": 6}, size=96)
    trained = tmp_path / "trained.safetensors"
    code, out, err = run(capsys, *env, "weld", "train", "--data", str(data), "--epochs", "1",
                         "--imgsz", "64", "--batch", "8", "--out", str(trained))
    assert code == 0, err
    assert "Detection on test" in out and "Registered as weld-yolo v1 (candidate)" in out
    monkeypatch.setenv("PLANTPULSE_WELD__CHECKPOINT", str(trained))
    monkeypatch.setenv("PLANTPULSE_WELD__IMGSZ", "64")
    code, _, err = run(capsys, *env, "weld", "predict", *map(str, images[:3]))
    assert code == 0, err
    with Database(env[3]).session() as session:
        production = session.query(ModelVersion).filter_by(stage="production").one()
        assert production.version == 1  # the trained checkpoint, registered once
        inspection = session.query(WeldInspection).first().id
    box = '[{"class_name": "Defect", "box": [10, 30, 40, 60]}]'
    assert run(capsys, *env, "weld", "review", str(inspection), "--verdict", "reject",
               "--boxes", box)[0] == 0
    code, out, err = run(capsys, *env, "weld", "retrain", "--data", str(data), "--epochs", "1")
    assert code == 0, err
    assert "Reviewed images used: 1" in out
    assert "PROMOTED to production" in out or "kept as candidate" in out
    with Database(env[3]).session() as session:
        assert session.query(ModelVersion).count() == 2
