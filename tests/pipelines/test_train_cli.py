"""``plantpulse train``: options, clear errors, and a real end-to-end run of all three stages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion
from plantpulse.pipelines.cli.main import cli, main


def test_help_lists_the_stages_and_presets():
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0
    for word in ("pretrain|finetune|distill|all", "tiny|default|large", "--resume", "--pcgrad",
                 "--engine [local|ray]", "--address", "--workers", "--use-gpu"):
        assert word in result.output


def test_unknown_dataset_is_refused(tmp_path: Path):
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "train", "--datasets", "cmapss,nasa",
                                      "--no-register"])
    assert result.exit_code != 0
    assert "unknown dataset(s) ['nasa']. Available: ai4i2020, azure_pdm" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--address", "auto"], "--address only apply with --engine ray"),
    (["--workers", "4", "--use-gpu"], "--workers, --use-gpu only apply with --engine ray"),
    (["--engine", "ray", "--device", "cuda"], "use --use-gpu for GPUs"),
], ids=["address-without-ray", "workers-without-ray", "device-with-ray"])
def test_ray_options_need_the_ray_engine(tmp_path: Path, args: list[str], message: str):
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "train", "--no-register", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_invalid_option_values_are_reported(tmp_path: Path, capsys):
    code = main(["--home", str(tmp_path), "train", "--steps", "0", "--no-register"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Invalid training options" in err and "steps" in err


def test_validation_rows_and_patience_reach_every_stage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from plantpulse.pipelines.train import job

    seen = []

    def record(settings, request, **_):
        seen.append(request)
        return job.TrainResult(run_dir=tmp_path)

    monkeypatch.setattr(job, "run", record)
    code = main(["--home", str(tmp_path), "train", "--datasets", "cwru", "--val-rows", "4000", "--patience", "6",
                 "--batch-size", "64", "--no-register"])
    assert code == 0 and len(seen) == 1
    options = seen[0].options("finetune")
    assert (options.val_batches, options.patience) == (63, 6)  # 4000 rows in batches of 64
    assert job.TrainRequest().options("finetune").patience == 3


def test_label_smoothing_and_weight_decay_reach_the_stage_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from plantpulse.pipelines.train import job

    seen = []
    monkeypatch.setattr(job, "run", lambda settings, request, **_: seen.append(request) or job.TrainResult(tmp_path))
    code = main(["--home", str(tmp_path), "train", "--datasets", "maintnet", "--label-smoothing", "0.1",
                 "--weight-decay", "0.2", "--no-register"])
    assert code == 0
    options = seen[0].options("finetune")
    assert (options.label_smoothing, options.weight_decay) == (0.1, 0.2)
    defaults = job.TrainRequest().options("finetune")
    assert (defaults.label_smoothing, defaults.weight_decay) == (0.0, 0.01)
    assert main(["--home", str(tmp_path), "train", "--label-smoothing", "1", "--no-register"]) == 2


def test_missing_datasets_folder_says_how_to_set_it(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("PLANTPULSE_DATASETS", raising=False)
    code = main(["--home", str(tmp_path), "train", "--no-register", "--preset", "tiny"])
    assert code == 2
    assert "Set PLANTPULSE_DATASETS" in capsys.readouterr().err


def test_registering_needs_a_current_database(tmp_path: Path, capsys):
    code = main(["--home", str(tmp_path), "--db", f"sqlite:///{tmp_path / 'x.db'}", "train", "--preset", "tiny"])
    assert code == 2
    assert "plantpulse db upgrade" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.real_data
def test_train_all_stages_end_to_end_on_real_data(datasets_dir: Path, tmp_path: Path, capsys):
    url = f"sqlite:///{tmp_path / 'pp.db'}"
    Database(url).upgrade()
    home = tmp_path / "home"
    args = ["--home", str(home), "--db", url, "train", "--preset", "tiny", "--steps", "2", "--batch-size", "8",
            "--eval-rows", "32", "--quiet", "--threads", "1"]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    for stage in ("pretrain", "finetune", "distill"):
        assert f"{stage} epoch 1" in err
    models = home / "models"
    teacher, student = models / "plantpulse-teacher-v1.safetensors", models / "plantpulse-student-v1.safetensors"
    assert teacher.is_file() and student.is_file()
    # the published teacher is the best-on-validation fine-tuned one, not the post-distillation state
    assert not (models / "plantpulse-teacher-v2.safetensors").is_file()
    with Database(url).session() as session:
        rows = {(r.name, r.kind): r for r in session.query(ModelVersion).all()}
    assert {("plantpulse-teacher", "teacher"), ("plantpulse-student", "student")} <= set(rows)
    row = rows[("plantpulse-student", "student")]
    assert row.data_fingerprint and "rul:turbofan" in row.metrics["test"]
    assert row.config["n_layers"] == 2 and row.config["top_k"] == 1  # tiny's student: both layers, top-1 of 2
    assert row.metrics["distill"]["student_params"] < row.metrics["distill"]["teacher_params"]
    assert rows[("plantpulse-teacher", "teacher")].metrics["stage"] == "finetune"
    vocab = rows[("plantpulse-teacher", "teacher")].config["channel_vocab"]
    assert "s_2" in vocab and "drive_end_accel" in vocab  # every trained channel has its own index

    # resuming skips finished stages and publishes the next version
    assert main([*args, "--stage", "finetune"]) == 0
    assert (models / "plantpulse-teacher-v2.safetensors").is_file()

    from plantpulse.data.datasets.cmapss import SENSOR_NAMES, SETTING_NAMES
    from plantpulse.model.moe.inference import load_moe
    predictor = load_moe(student, quantize=True)
    names = [*SETTING_NAMES, *SENSOR_NAMES]
    calibration = predictor.meta.extra["rul_intervals"]["rul:turbofan"]  # split conformal on validation engines
    assert calibration["level"] == 0.8 and calibration["n"] >= 500 and calibration["scale"] > 0
    stats = predictor.normalizers["turbofan"]
    assert "s_1" in stats["dropped"] and stats["regimes"] == 6  # constant in every regime; 6 regimes pooled
    mean, std = np.zeros(24, np.float32), np.ones(24, np.float32)
    for name, m, sd in zip(stats["channels"], stats["mean"], stats["std"], strict=True):
        mean[names.index(name)], std[names.index(name)] = m, sd
    windows = np.random.default_rng(0).normal(size=(2, 30, 24)).astype(np.float32) * std + mean
    records = predictor.predict_batch(windows, names, "turbofan")  # dropped ones are left out
    assert len(records) == 2 and records[0].rul_mean is not None and records[0].anomaly_score is not None


@pytest.mark.slow
@pytest.mark.real_data
def test_train_on_structured_features_end_to_end(datasets_dir: Path, tmp_path: Path, capsys):
    """A table task given as structured features: the job turns the feature tokens on, indexes
    the feature names, and the published teacher scores the table rows."""
    from plantpulse.model.moe.checkpoint import load_checkpoint
    from plantpulse.model.moe.training.data import Batcher
    from plantpulse.model.moe.training.validation import evaluate
    from plantpulse.pipelines.train.tasks import build_bundle

    home = tmp_path / "home"
    args = ["--home", str(home), "train", "--preset", "tiny", "--datasets", "ai4i2020", "--tasks", "fault:milling",
            "--dataset-option=ai4i2020.structured=true", "--steps", "3", "--batch-size", "16",
            "--finetune-epochs", "1", "--distill-epochs", "0", "--eval-rows", "64", "--quiet", "--threads", "1",
            "--no-register"]
    assert main(args) == 0, capsys.readouterr().err[-3000:]
    model, meta = load_checkpoint(home / "models" / "plantpulse-teacher-v1.safetensors")
    assert model.cfg.feature_tokens and "torque [nm]" in model.cfg.channel_vocab
    assert meta.extra["feature_lists"]["milling"][0] == "Air temperature [K]"
    test = build_bundle("ai4i2020", datasets_dir, structured=True).splits["fault:milling"].test.subset(np.arange(64))
    got = evaluate(model, test, Batcher(*_batcher_parts(model)))
    assert 0.0 <= got["accuracy"] <= 1.0


def _batcher_parts(model):
    from plantpulse.model.moe.layers.embeddings import HashingTokenizer
    return HashingTokenizer.for_config(model.cfg), model.channel_index


@pytest.mark.slow
@pytest.mark.real_data
def test_adapters_train_on_the_frozen_joint_backbone(datasets_dir: Path, tmp_path: Path, capsys):
    """--adapter-epochs: after the joint fine-tuning, each task's adapter and head alone, on a
    frozen copy of the backbone, published as the 'adapted' model beside the unchanged teacher."""
    import torch

    from plantpulse.model.moe.checkpoint import load_checkpoint

    home = tmp_path / "home"
    url = f"sqlite:///{tmp_path / 'pp.db'}"
    Database(url).upgrade()
    args = ["--home", str(home), "--db", url, "train", "--preset", "tiny", "--datasets", "ai4i2020,maintnet",
            "--tasks", "fault:milling,system:aircraft", "--stage", "finetune", "--steps", "3", "--batch-size", "16",
            "--finetune-epochs", "1", "--adapter-epochs", "2", "--eval-rows", "64", "--quiet", "--threads", "1"]
    assert main(args) == 0, capsys.readouterr().err[-3000:]
    err = capsys.readouterr().err
    for task in ("fault:milling", "system:aircraft"):
        assert f"adapt {task} epoch 2" in err
    teacher, _ = load_checkpoint(home / "models" / "plantpulse-teacher-v1.safetensors")
    adapted, meta = load_checkpoint(home / "models" / "plantpulse-adapted-v1.safetensors")
    assert set(meta.metrics["val"]) == {"fault:milling", "system:aircraft"}
    before, after = teacher.state_dict(), adapted.state_dict()
    backbone = [k for k in before if not k.startswith("decoder.")]
    assert backbone and all(torch.equal(before[k], after[k]) for k in backbone)  # routing biases too
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    with Database(url).session() as session:
        kinds = {r.kind for r in session.query(ModelVersion).all()}
    assert kinds == {"teacher", "adapted"}
