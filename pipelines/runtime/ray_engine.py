"""Scale out on Ray: batch scoring on Ray Data, training under Ray Train's TorchTrainer (DDP).

Ray is optional (``pip install 'plantpulse[distributed]'``) and imported only here, only when
used. ``address=None`` starts a private local Ray for the call; ``"auto"`` joins the cluster this
host belongs to; ``"ray://head:10001"`` connects a client to a remote cluster (see docs/scale.md).

Scoring: the assets to score are split into partitions; each Ray actor loads the model once,
reads its assets' windows from the database (PostgreSQL on a cluster) and returns predictions.
The driver writes them, and the alerts, in one transaction through the data layer, exactly as the
local engine does.

Training: :func:`train_on_ray` wraps a per-worker training function in a TorchTrainer. Inside
that function, :func:`worker_context`, :func:`prepare_model`, :func:`shard` and :func:`report`
are the few Ray calls a training loop needs. :func:`train_job_on_ray` runs the whole
``plantpulse train`` job that way: every worker runs the same job on its own batches and the
stages average the gradients over the workers (``plantpulse.model.moe.training.distributed``).
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.records import Prediction, PredictionRow
from plantpulse.data.core.times import from_micros, to_micros
from plantpulse.data.store.db import open_database

log = logging.getLogger(__name__)

INSTALL_HINT = "Ray is not installed. Install the extra: pip install 'plantpulse[distributed]'."


def _ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ConfigError(INSTALL_HINT) from err
    return ray


@contextmanager
def ray_session(address: str | None, num_cpus: int | None = None, log_to_driver: bool = False
                ) -> Iterator[Any]:
    """Connect to (or start) Ray for the block; a Ray started here is shut down after it.
    ``log_to_driver`` shows the workers' output here (prefixed with their process)."""
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": log_to_driver,
                              "configure_logging": False}
    if address:
        kwargs["address"] = address
    else:
        kwargs["num_cpus"] = num_cpus
    ray.init(**kwargs)
    try:
        yield ray
    finally:
        ray.shutdown()


# ---------------------------------------------------------------------------------- scoring
def _encode(row: PredictionRow) -> str:
    data = asdict(row)
    data["window_end"] = to_micros(row.window_end)
    return json.dumps(data)


def _decode(text: str) -> PredictionRow:
    data = json.loads(text)
    data["window_end"] = from_micros(data["window_end"])
    p = data.pop("prediction")
    return PredictionRow(**data, prediction=Prediction(**p | {"expert_shares": tuple(p["expert_shares"])}))


class _PartitionScorer:
    """A Ray actor: loads the model once, then scores partitions of assets."""

    def __init__(self, db_url: str, ref: dict[str, Any], batch_size: int, logs: dict[str, Any] | None = None) -> None:
        from plantpulse.data.store.db import Database
        from plantpulse.pipelines.score.compute import ModelRef, load_model
        from plantpulse.pipelines.score.texts import LogText

        self.db = Database(db_url)
        self.ref = ModelRef(**ref)
        self.predictor = load_model(self.ref)
        self.batch_size = batch_size
        self.logs = LogText(**logs) if logs else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from plantpulse.pipelines.score.compute import Candidate, score_assets

        assets = [Candidate(int(a), str(n), str(t))
                  for a, n, t in zip(batch["asset_id"], batch["name"], batch["asset_type"], strict=True)]
        scores = score_assets(self.db, self.predictor, self.ref, assets, self.batch_size, self.logs)
        kinds = ["row"] * len(scores.rows) + ["skip"] * len(scores.skipped)
        payload = [_encode(r) for r in scores.rows] + [json.dumps(s) for s in scores.skipped]
        return {"kind": np.asarray(kinds, dtype=object), "payload": np.asarray(payload, dtype=object)}


def score_on_ray(db_url: str, ref: Any, assets: Sequence[Any], batch_size: int, workers: int,
                 address: str | None = None, logs: Any = None) -> Any:
    """Score ``assets`` in ``workers`` parallel partitions on Ray; returns :class:`Scores`."""
    from plantpulse.pipelines.score.compute import Scores

    if not assets:
        return Scores((), ())
    items = [{"asset_id": a.asset_id, "name": a.name, "asset_type": a.asset_type} for a in assets]
    per_partition = max(1, -(-len(items) // (workers * 2)))  # two partitions per worker balance the load
    with ray_session(address, num_cpus=workers) as ray:
        ray.data.DataContext.get_current().enable_progress_bars = False
        dataset = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // per_partition)))
        scored = dataset.map_batches(
            _PartitionScorer, batch_size=per_partition, batch_format="numpy", concurrency=workers, num_cpus=1,
            fn_constructor_kwargs={"db_url": db_url, "ref": asdict(ref), "batch_size": batch_size,
                                   "logs": None if logs is None else asdict(logs)})
        out = scored.take_all()
    rows = tuple(sorted((_decode(r["payload"]) for r in out if r["kind"] == "row"), key=lambda r: r.asset_id))
    skipped = tuple(tuple(json.loads(r["payload"])) for r in out if r["kind"] == "skip")
    return Scores(rows, skipped)


# ---------------------------------------------------------------------------------- training
@dataclass(frozen=True, slots=True)
class WorkerContext:
    rank: int
    world_size: int
    local_rank: int


def worker_context() -> WorkerContext:
    """This training worker's place in the group (call inside the per-worker function)."""
    from ray import train

    ctx = train.get_context()
    return WorkerContext(ctx.get_world_rank(), ctx.get_world_size(), ctx.get_local_rank())


def prepare_model(model: Any) -> Any:
    """Move ``model`` to this worker's device and wrap it in DistributedDataParallel."""
    from ray.train.torch import prepare_model as prepare

    return prepare(model)


def shard(n: int, ctx: WorkerContext) -> np.ndarray:
    """Indices of ``n`` samples this worker owns: contiguous, equal-sized (the tail is dropped)."""
    size = n // ctx.world_size
    return np.arange(ctx.rank * size, (ctx.rank + 1) * size)


def report(metrics: dict[str, Any], checkpoint_dir: Path | None = None) -> None:
    """Report metrics (and, from rank 0, a checkpoint folder) to Ray Train; every rank must call it.

    Ray Train 2.x keeps the metrics of a report only together with a checkpoint, so rank 0
    should pass the folder it saved the model in (the others pass None).
    """
    from ray import train

    checkpoint = train.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
    train.report(metrics, checkpoint=checkpoint)


def train_on_ray(train_fn: Callable[[dict[str, Any]], None], config: dict[str, Any], *, num_workers: int = 2,
                 address: str | None = None, use_gpu: bool = False, storage_path: Path | None = None,
                 name: str = "plantpulse-train", log_to_driver: bool = False) -> Any:
    """Run ``train_fn(config)`` on ``num_workers`` DDP workers; returns Ray Train's ``Result``.

    ``storage_path`` must be a folder every node can reach (shared disk or s3://) on a cluster.
    """
    _ray()  # the install hint when Ray is missing
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    storage = str(storage_path or Path(".plantpulse") / "ray-results")
    if "://" not in storage:
        storage = str(Path(storage).resolve())
    with ray_session(address, num_cpus=num_workers + 1, log_to_driver=log_to_driver):
        trainer = TorchTrainer(
            train_loop_per_worker=train_fn, train_loop_config=config,
            scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu),
            run_config=RunConfig(name=name, storage_path=storage))
        return trainer.fit()


# ---------------------------------------------------------------------------------- the train job
def _train_worker(config: dict[str, Any]) -> None:
    """One rank of ``plantpulse train --engine ray`` (module level: Ray workers import it by name).

    ``config`` holds plain values: the settings and the request as dicts, the device and threads.
    """
    import torch

    from plantpulse.data.core.config.settings import Settings
    from plantpulse.pipelines.train.job import TrainRequest, run

    ctx = worker_context()
    if config["threads"]:
        torch.set_num_threads(config["threads"])
    device = config["device"]
    if device is None:  # --use-gpu: the GPU Ray gave this worker
        from ray.train.torch import get_device

        device = str(get_device())
    settings = Settings.model_validate(config["settings"])
    request = TrainRequest.model_validate({**config["request"], "device": device})
    result = run(settings, request, echo=_echo)
    metrics: dict[str, Any] = {"world_size": ctx.world_size}
    if ctx.rank != 0:
        report(metrics)
        return
    metrics["result"] = {"run_dir": str(result.run_dir), "registered": result.registered,
                         "checkpoints": {k: str(v) for k, v in result.checkpoints.items()}}
    with tempfile.TemporaryDirectory(prefix="plantpulse-train-") as folder:
        (Path(folder) / "result.json").write_text(json.dumps(metrics["result"]))
        report(metrics, Path(folder))


def _echo(line: str) -> None:
    # not print(): Ray Train patches it into its logger, which shows every line twice on the driver
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _portable(settings: Any) -> Any:
    """``settings`` with absolute paths: Ray workers run in folders of their own."""
    update: dict[str, Any] = {"home": settings.home.resolve()}
    if settings.datasets_dir is not None:
        update["datasets_dir"] = settings.datasets_dir.resolve()
    url = settings.database_url
    if url and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        update["database_url"] = "sqlite:///" + str(Path(url.removeprefix("sqlite:///")).resolve())
    return settings.model_copy(update=update)


def train_job_on_ray(settings: Any, request: Any, *, workers: int = 2, address: str | None = None,
                     use_gpu: bool = False, threads: int | None = None) -> Any:
    """Run the ``plantpulse train`` job on ``workers`` DDP ranks under a TorchTrainer.

    Every rank builds the data and the model (same seed, same parameters) and trains on its own
    batches; gradients are averaged each step, so one step takes ``workers x batch_size``
    samples. Rank 0 writes the run folder and the versioned checkpoints into ``<home>/models``
    and registers them: on a cluster, ``<home>`` and the datasets folder must be reachable at the
    same path from every node. Ray's own results go to ``<home>/ray-results``. Returns the
    job's ``TrainResult``.
    """
    from plantpulse.pipelines.train.job import TrainResult

    settings = _portable(settings)
    if request.register_versions:
        open_database(settings).require_current()  # fail before starting Ray, not after training
    config = {"settings": settings.model_dump(mode="json"), "request": request.model_dump(mode="json"),
              "device": None if use_gpu else "cpu", "threads": threads}
    outcome = train_on_ray(_train_worker, config, num_workers=workers, address=address, use_gpu=use_gpu,
                           storage_path=settings.home / "ray-results", log_to_driver=True,
                           name=f"train-{request.name}-{request.preset}")
    summary = outcome.metrics["result"]
    return TrainResult(Path(summary["run_dir"]), {k: Path(v) for k, v in summary["checkpoints"].items()},
                       registered=list(summary["registered"]))
