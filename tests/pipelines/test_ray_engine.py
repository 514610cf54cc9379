"""Ray: scoring on Ray Data and training under TorchTrainer (DDP) agree with the local engine.

Starts a private local Ray with three CPUs; slow (Ray's start-up dominates). That gradient
averaging equals training on the concatenated batches is checked without Ray, fast, in
tests/model/test_training.py.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from scoring_support import CHANNELS, add_readings
from sqlalchemy import select

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import promote_model_version, register_model_version
from plantpulse.data.store.schema import Alert, ModelVersion, Prediction
from plantpulse.model.baseline.quantile_mlp import BaselineRulModel, RunToFailure
from plantpulse.pipelines.cli.main import main
from plantpulse.pipelines.score.job import ScoreRequest, run_scoring

pytestmark = [pytest.mark.slow, pytest.mark.integration]
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    """One private Ray for the module (both tests), shut down afterwards."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this file
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def fleet_with_baseline(db: Database, folder: Path, rng: np.random.Generator) -> None:
    def life(n: int) -> np.ndarray:
        t = np.arange(n, dtype=np.float64)
        return np.column_stack([100 - 0.5 * t, 0.3 * t]) + rng.normal(0, 0.2, (n, 2))

    runs = [RunToFailure(f"r{i}", life(int(rng.integers(60, 120)))) for i in range(8)]
    model = BaselineRulModel(CHANNELS, asset_type="pump", window=10, hidden=16).fit(runs, epochs=3)
    path = model.save(folder / "baseline.safetensors")
    with db.session() as s:
        promote_model_version(s, register_model_version(s, name="student", kind="baseline", path=str(path)).id)
    for i in range(10):
        values = life(20 + 7 * i)[:, 0]
        add_readings(db, f"pump-{i:02d}", values)


def test_ray_scoring_equals_local_scoring(tmp_path: Path, rng: np.random.Generator, local_ray: None) -> None:
    results = {}
    for engine in ("local", "ray"):
        db = Database(f"sqlite:///{tmp_path / engine / 'plant.db'}")
        db.upgrade()
        fleet_with_baseline(db, tmp_path / engine, np.random.default_rng(7))
        settings = load_settings(env={}, home=str(tmp_path / engine / "home"))
        result = run_scoring(settings, db, ScoreRequest("student", engine=engine, ray_workers=2, batch_size=3))
        with db.session() as s:
            rows = s.execute(select(Prediction.asset_id, Prediction.window_end, Prediction.rul_mean,
                                    Prediction.rul_lower, Prediction.anomaly_score).order_by(Prediction.asset_id)).all()
            alerts = sorted((a.asset_id, a.rule) for a in s.scalars(select(Alert)))
        results[engine] = (result.predictions, rows, alerts)
        db.dispose()
    (n_local, local, a_local), (n_ray, remote, a_ray) = results["local"], results["ray"]
    assert n_local == n_ray == 10
    assert [r[:2] for r in local] == [r[:2] for r in remote]
    np.testing.assert_allclose(np.array([r[2:] for r in local], float), np.array([r[2:] for r in remote], float),
                               rtol=1e-6)
    assert a_local == a_ray


def _regression_data() -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.default_rng(3)
    x = gen.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5], np.float32) + 0.3 + gen.normal(0, 0.1, 64)).astype(np.float32)
    return x, y


def _fit(x, y, steps: int, lr: float, model):
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(xt).squeeze(-1), yt).backward()
        opt.step()
    return model


def _worker_loop(config: dict) -> None:
    """Per-worker DDP loop: each rank fits on its half; DDP averages the gradients."""
    import torch

    from plantpulse.pipelines.runtime.ray_engine import prepare_model, report, shard, worker_context

    ctx = worker_context()
    x, y = _regression_data()
    mine = shard(len(x), ctx)
    torch.manual_seed(0)
    model = prepare_model(torch.nn.Linear(3, 1))
    _fit(x[mine], y[mine], config["steps"], config["lr"], model)
    inner = model.module if hasattr(model, "module") else model
    weights = inner.weight.detach().reshape(-1).tolist() + inner.bias.detach().tolist()
    folder = None
    if ctx.rank == 0:  # one copy of the model, as a training loop would save its checkpoint
        folder = Path(tempfile.mkdtemp())
        (folder / "weights.json").write_text(json.dumps(weights))
    report({"weights": weights, "world_size": ctx.world_size}, folder)


def test_torch_trainer_ddp_equals_local_training(tmp_path: Path, local_ray: None) -> None:
    import torch

    from plantpulse.pipelines.runtime.ray_engine import train_on_ray

    config = {"steps": 40, "lr": 0.1}
    result = train_on_ray(_worker_loop, config, num_workers=2, storage_path=tmp_path / "ray")
    torch.manual_seed(0)
    x, y = _regression_data()
    local = _fit(x, y, config["steps"], config["lr"], torch.nn.Linear(3, 1))
    expected = local.weight.detach().reshape(-1).tolist() + local.bias.detach().tolist()
    assert result.metrics["world_size"] == 2
    np.testing.assert_allclose(result.metrics["weights"], expected, rtol=1e-5, atol=1e-6)
    with result.checkpoint.as_directory() as folder:
        np.testing.assert_allclose(json.loads((Path(folder) / "weights.json").read_text()), expected, rtol=1e-5)
    assert abs(expected[0] - 1.5) < 0.2, "the fit itself converged"


@pytest.mark.real_data
def test_train_command_on_ray_writes_and_registers_checkpoints(datasets_dir: Path, tmp_path: Path,
                                                                local_ray: None, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'pp.db'}"
    Database(url).upgrade()
    home = tmp_path / "home"
    code = main(["--home", str(home), "--db", url, "train", "--engine", "ray", "--workers", "2",
                 "--preset", "tiny", "--datasets", "ai4i2020", "--epochs", "1", "--steps", "2",
                 "--batch-size", "8", "--eval-rows", "32", "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    teacher = home / "models" / "plantpulse-teacher-v1.safetensors"  # the best-on-validation fine-tuned one
    student = home / "models" / "plantpulse-student-v1.safetensors"
    assert f"student: {student.resolve()}" in out.out
    assert teacher.is_file() and student.is_file()
    assert (home / "models" / "runs" / "plantpulse-tiny" / "distill.state.safetensors").is_file()
    with Database(url).session() as session:
        rows = {(r.name, r.version) for r in session.query(ModelVersion).all()}
    assert rows == {("plantpulse-teacher", 1), ("plantpulse-student", 1)}

    from plantpulse.model.moe.checkpoint import load_checkpoint
    model, _ = load_checkpoint(student)
    assert model.cfg.n_layers == 2 and model.cfg.top_k == 1  # tiny's student: both layers, top-1 of 2 experts


@pytest.mark.real_data
def test_train_on_one_ray_worker_equals_local_training(datasets_dir: Path, tmp_path: Path, local_ray: None,
                                                        capsys) -> None:
    """One rank takes exactly the local path: same seeds, same batches, bit-identical weights."""
    import torch
    from safetensors.torch import load_file

    args = ["train", "--stage", "finetune", "--preset", "tiny", "--datasets", "ai4i2020", "--steps", "3",
            "--batch-size", "8", "--eval-rows", "32", "--quiet", "--no-register"]
    threads = torch.get_num_threads()
    try:
        assert main(["--home", str(tmp_path / "local"), *args, "--threads", "1"]) == 0  # as Ray's worker
    finally:
        torch.set_num_threads(threads)
    assert main(["--home", str(tmp_path / "ray"), *args, "--engine", "ray", "--workers", "1"]) == 0, \
        capsys.readouterr().err[-3000:]
    local, remote = (load_file(tmp_path / e / "models" / "plantpulse-teacher-v1.safetensors") for e in ("local", "ray"))
    assert local.keys() == remote.keys()
    for name, value in local.items():
        assert torch.equal(value, remote[name]), name
