"""Calibrate the RUL interval of existing checkpoints again, with the current rule.

A checkpoint's 80 % RUL interval multiplier is computed on its validation units when it is
published (:mod:`plantpulse.model.moe.training.calibrate`). When the calibration rule changes (it
now takes the larger multiplier over all units and over those below the RUL cap), checkpoints
trained before carry the old multiplier. This rebuilds each checkpoint's validation split from what the checkpoint records
(datasets, task-builder options, seed; built-in datasets only), computes the multiplier again and
rewrites the checkpoint with the new ``extra["rul_intervals"]``; the weights, config, metrics and
creation time are kept, and the tensors' digest is checked to be unchanged. The file's bytes
change, so a registered version of it no longer matches its recorded sha256: register the
rewritten file as a new version.

    python -m plantpulse.pipelines.train.recalibrate [--dry-run] CHECKPOINT [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.errors import CheckpointError, PlantPulseError
from plantpulse.model.moe.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from plantpulse.model.moe.training import Batcher
from plantpulse.model.moe.training.calibrate import calibrate_rul
from plantpulse.pipelines.train.tasks import BUNDLES, build_bundle


def recalibrate(path: Path, datasets_dir: Path, write: bool = True) -> tuple[dict, dict]:
    """(old, new) ``rul_intervals`` of the checkpoint at ``path``; rewrites it when ``write``."""
    model, meta = load_checkpoint(path)
    extra = meta.extra
    missing = [key for key in ("datasets", "bundle_options", "seed") if key not in extra]
    if missing:
        raise CheckpointError(f"{path}: the checkpoint does not record {missing}, so its validation split "
                              f"cannot be rebuilt; calibrate it by training it again with `plantpulse train`.")
    datasets = list(extra["datasets"])
    unknown = [name for name in datasets if name not in BUNDLES]
    if unknown:
        raise CheckpointError(f"{path}: datasets {unknown} are not built-in ones ({', '.join(sorted(BUNDLES))}); "
                              f"calibrate it by training it again.")
    options, seed = extra["bundle_options"], int(extra["seed"])
    tasks = [splits for name in datasets
             for splits in build_bundle(name, datasets_dir, seed=seed, image_size=model.cfg.image_size,
                                        **options.get(name, {})).splits.values()
             if splits.train.task is not None and splits.train.task.kind == "rul"]
    new = calibrate_rul(model.eval(), tasks, Batcher.for_model(model))
    old = dict(extra.get("rul_intervals", {}))
    if write and new != old:
        save_checkpoint(model, path, kind=meta.kind, name=meta.name, version=meta.version, metrics=meta.metrics,
                        data_fingerprint=meta.data_fingerprint, extra={**extra, "rul_intervals": new},
                        created_at=meta.created_at or None)
        if read_metadata(path).tensors_sha256 != meta.tensors_sha256:
            raise CheckpointError(f"{path}: the rewritten weights differ from the original ones.")
    return old, new


def _report(path: Path, old: dict, new: dict, dry_run: bool) -> None:
    for task in sorted(set(old) | set(new)):
        before, after = old.get(task, {}), new.get(task, {})
        print(f"{path}: {task}: scale {before.get('scale', '-')} on {before.get('n', '-')} units "
              f"-> {after.get('scale', '-')} on {after.get('n', '-')} units ({after.get('method', '-')})"
              f"{' (not written)' if dry_run else ''}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", type=Path, nargs="+", help="checkpoint files (.safetensors)")
    parser.add_argument("--dry-run", action="store_true", help="print the old and new multipliers only")
    opts = parser.parse_args(argv)
    try:
        root = load_settings().require_datasets_dir()
        for path in opts.checkpoints:
            _report(path, *recalibrate(path, root, write=not opts.dry_run), opts.dry_run)
    except PlantPulseError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
