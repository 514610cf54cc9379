"""The evaluation reuses a committed MoE checkpoint only when it was trained on the data this
code builds: equal training commands are not enough (a builder default can move a split)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from plantpulse.data.core.errors import CheckpointError
from plantpulse.model import PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.checkpoint import save_checkpoint
from plantpulse.pipelines.evaluate import moe
from plantpulse.pipelines.evaluate.records import BUDGETS, EvalContext

TASK = TaskSpec(name="defect:weld", kind="classification", classes=("bad", "good"))
SPEC = moe.MoeSpec(name="weld-s0", datasets=("weld_surface_yolo",), tasks=(TASK.name,), distill=False)


def _ctx(tmp_path: Path, from_checkpoint: bool = False) -> EvalContext:
    return EvalContext(tmp_path, (0,), BUDGETS["per-task"], tmp_path / "work", tmp_path / "ckpt", tmp_path / "img",
                       from_checkpoint=from_checkpoint, echo=lambda line: None)


def _committed(ctx: EvalContext, fingerprint: str) -> Path:
    """A checkpoint of SPEC trained on data with ``fingerprint``, with its training record."""
    path = moe.checkpoint_paths(ctx, SPEC)["teacher"]
    save_checkpoint(PlantPulseModel(preset("tiny", tasks=(TASK,))), path, data_fingerprint=fingerprint)
    record = {"commands": moe.train_commands(ctx, SPEC), "budget": "per-task", "wall_s": 12.0}
    (ctx.checkpoint_dir / f"{SPEC.name}.json").write_text(json.dumps(record), encoding="utf-8")
    return path


@pytest.fixture
def trainings(monkeypatch, tmp_path: Path) -> list[str]:
    """Stands in for the training job: records the call and publishes a checkpoint on new data."""
    calls: list[str] = []

    def train(ctx: EvalContext, spec: moe.MoeSpec) -> dict[str, Path]:
        calls.append(spec.name)
        out = tmp_path / "published.safetensors"
        save_checkpoint(PlantPulseModel(preset("tiny", tasks=(TASK,))), out, data_fingerprint="new-data")
        return {"teacher": out}

    monkeypatch.setattr(moe, "train", train)
    return calls


def test_a_checkpoint_on_the_same_data_is_reused(tmp_path: Path, trainings: list[str]):
    ctx = _ctx(tmp_path)
    _committed(ctx, "same-data")
    models = moe.obtain(ctx, SPEC, lambda: "same-data")
    assert trainings == [] and models.wall_s == 12.0


def test_equal_commands_on_other_data_train_again(tmp_path: Path, trainings: list[str]):
    ctx = _ctx(tmp_path)
    path = _committed(ctx, "old-split")
    lines: list[str] = []
    models = moe.obtain(replace(ctx, echo=lines.append), SPEC, lambda: "new-data")
    assert trainings == ["weld-s0"]
    assert any("not reusing" in line and "fingerprint" in line for line in lines)
    from plantpulse.model.moe.checkpoint import read_metadata
    assert read_metadata(path).data_fingerprint == "new-data" and models.teacher is not None


def test_from_checkpoint_refuses_a_checkpoint_trained_on_other_data(tmp_path: Path, trainings: list[str]):
    ctx = _ctx(tmp_path, from_checkpoint=True)
    _committed(ctx, "old-split")
    with pytest.raises(CheckpointError, match=r"fingerprint old-split.*without --from-checkpoint"):
        moe.obtain(ctx, SPEC, lambda: "new-data")
    assert trainings == []


def test_a_checkpoint_without_a_stored_fingerprint_is_not_checked(tmp_path: Path, trainings: list[str]):
    ctx = _ctx(tmp_path, from_checkpoint=True)
    _committed(ctx, "")

    def never() -> str:
        raise AssertionError("the data need not be built when there is nothing to compare")

    assert moe.obtain(ctx, SPEC, never).teacher is not None and trainings == []


def test_a_plain_network_trained_on_other_data_is_refused(tmp_path: Path, monkeypatch):
    import numpy as np

    from plantpulse.model.moe.training import TaskData, TaskSplits
    from plantpulse.pipelines.evaluate import scoring

    rng = np.random.default_rng(0)

    def part(name: str, n: int, shift: float = 0.0) -> TaskData:
        return TaskData(name=name, task=TASK, groups=np.arange(n), sensor=rng.normal(shift, 1, (n, 8, 2)),
                        channels=("a", "b"), targets=rng.integers(0, 2, n))

    splits = TaskSplits(part("train", 32), part("val", 8), part("test", 8))
    tiny = BUDGETS["quick"].model_copy(update={"net_steps": 2, "net_epochs": 1, "batch_size": 8})
    trained, _ = scoring.plain_model(replace(_ctx(tmp_path), budget=tiny), splits, 0, "toy-s0")
    loaded, _ = scoring.plain_model(_ctx(tmp_path, from_checkpoint=True), splits, 0, "toy-s0")
    assert loaded.spec == trained.spec  # same training rows: loaded
    moved = TaskSplits(part("train", 32, shift=1.0), splits.val, splits.test)  # a split that moved
    with pytest.raises(CheckpointError, match="fingerprint.*without --from-checkpoint"):
        scoring.plain_model(_ctx(tmp_path, from_checkpoint=True), moved, 0, "toy-s0")


def test_the_committed_checkpoint_readme_lists_every_committed_checkpoint(tmp_path: Path):
    """model/checkpoints/README.md is what write_readme makes of the folder: every checkpoint with
    its command and wall time (a training run rewrites it; a checkpoint committed without it is
    caught here)."""
    from plantpulse.pipelines.evaluate.checkpoints import write_readme

    committed = Path(__file__).resolve().parents[3] / "model" / "checkpoints"
    copy = tmp_path / "checkpoints"
    copy.mkdir()
    for path in committed.glob("*.json"):
        (copy / path.name).write_bytes(path.read_bytes())
    for path in committed.rglob("*.safetensors"):  # same names and sizes, no need for the bytes
        target = copy / path.relative_to(committed)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            out.truncate(path.stat().st_size)
    ctx = EvalContext(tmp_path, (0,), BUDGETS["per-task"], tmp_path, copy, tmp_path, echo=lambda _: None)
    expected = write_readme(ctx).read_text(encoding="utf-8")
    assert (committed / "README.md").read_text(encoding="utf-8") == expected, (
        "model/checkpoints/README.md is out of date: rewrite it with "
        "plantpulse.pipelines.evaluate.checkpoints.write_readme (a training run of plantpulse evaluate does)")
