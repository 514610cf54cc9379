"""Choose a per-task MoE recipe on validation: train each variant with ``plantpulse train`` and
print its validation metrics. Test metrics are not read, so nothing here can pick on test data.

    python benchmarks/recipe_search.py benchmarks/recipes/weld.txt --json benchmarks/results/recipes/weld.json

A variants file has one variant per line: ``TAG DATASET [pre=N] [plantpulse train options]``
(``#`` starts a comment). Every variant trains the ``tiny`` preset on DATASET's task alone (or,
with DATASET a comma-separated list, one joint model of their tasks), seed 0
(``--seed N`` among a variant's options overrides it), with the evaluation budget's model options
(8-sample patches, 48 text tokens, 64-pixel images);
``pre=N`` runs N pre-training epochs first. The options are those of ``plantpulse train``
(``--finetune-epochs``, ``--lr``, ``--batch-size``, ``--patience``, ``--class-weight-power``,
``--model-option``, ``--dataset-option``, ``--adapter-epochs``). The validation figures are read
from the teacher checkpoint the run publishes (whole validation split, up to 5,000 rows), and with
``--adapter-epochs`` also from the adapted one (``val_adapted``). With the dataset option
``holdout`` (``--dataset-option=DATASET.holdout=0.5``) a share of the validation groups replaces the
test split and the dataset's test rows are not built at all; the teacher's figures on those
held-out groups, which early stopping never saw, are printed too (``holdout``). Runs one variant
at a time on one thread; start one process per free core.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its thread pool
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# dataset -> its task and the dataset options the evaluation protocol uses
TASKS: dict[str, list[str]] = {
    "weld_surface_yolo": ["--tasks", "defect:weld"],
    "ai4i2020": ["--tasks", "fault:milling", "--dataset-option=ai4i2020.derived=true"],
    "maintnet": ["--tasks", "system:aircraft"],
    "cwru": ["--tasks", "fault:bearing"],
    "azure_pdm": ["--tasks", "failure24h:machine", '--dataset-option=azure_pdm.modalities=["sensor","text"]'],
    # one subset per variant: --dataset-option=cmapss.subsets=[\"FD001\"]
    "cmapss": ["--tasks", "rul:turbofan", "--dataset-option=cmapss.window=50"],
}
COMMON = ["--preset", "tiny", "--distill-epochs", "0", "--seed", "0", "--device", "cpu", "--no-register",
          "--eval-rows", "5000", "--quiet", "--model-option", "patch_len=8", "--model-option", "max_text_len=48",
          "--model-option", "image_size=64"]


def commands(home: Path, tag: str, dataset: str, args: list[str]) -> list[list[str]]:
    """The ``plantpulse train`` command line(s) of one variant."""
    pre = [a for a in args if a.startswith("pre=")]
    rest = [a for a in args if not a.startswith("pre=")]
    epochs = int(pre[0][4:]) if pre else 0
    names = dataset.split(",")  # several: one joint model of their tasks
    tasks = ["--tasks", ",".join(TASKS[d][1] for d in names), *(o for d in names for o in TASKS[d][2:])]
    base = ["plantpulse", "--home", str(home), "train", *COMMON, "--datasets", dataset, *tasks,
            "--name", tag, "--pretrain-epochs", str(epochs), *rest]
    stages = (["pretrain"] if epochs else []) + ["finetune"]
    return [[*base, "--stage", stage] for stage in stages]


def run_variant(work: Path, tag: str, dataset: str, args: list[str], datasets_dir: str) -> dict:
    from plantpulse.model.moe.checkpoint import read_metadata

    home = work / tag
    env = {**os.environ, "PLANTPULSE_DATASETS": datasets_dir}
    cli = str(Path(sys.executable).with_name("plantpulse"))
    start = time.perf_counter()
    lines = commands(home, tag, dataset, args)
    for line in lines:
        done = subprocess.run([cli, *line[1:]], capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(f"variant {tag} failed:\n{shlex.join(line)}\n{done.stderr[-2000:]}")
    wall = time.perf_counter() - start
    def validation(kind: str, split: str = "val") -> dict[str, dict[str, float]] | None:
        found = sorted((home / "models").glob(f"{tag}-{kind}-v*.safetensors"))
        if not found:
            return None
        val = read_metadata(found[-1]).metrics.get(split, {})
        return {task: {k: round(float(v), 4) for k, v in got.items()} for task, got in val.items()}

    held = any(".holdout=" in a for a in args)  # then the run's "test" split is held-out validation
    record = {"tag": tag, "dataset": dataset, "options": " ".join(args), "wall_s": round(wall, 1),
              "val": validation("teacher"), **({"holdout": validation("teacher", "test")} if held else {}),
              "commands": [shlex.join(line).replace(str(work), "<work-dir>") for line in lines]}
    adapted = validation("adapted")  # --adapter-epochs: per-task adapters on the frozen joint backbone
    return record | ({"val_adapted": adapted} if adapted is not None else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", type=Path, help="variants file (see the module docstring)")
    parser.add_argument("--json", type=Path, default=None, help="write every variant's record here")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the runs here (default: temporary)")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    opts = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = opts.work_dir or Path(tmp)
        for line in opts.variants.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            tag, dataset, *args = shlex.split(line)
            unknown = [d for d in dataset.split(",") if d not in TASKS]
            if unknown:
                raise SystemExit(f"{opts.variants}: unknown dataset {unknown[0]!r} in {tag}; known: {', '.join(TASKS)}")
            rows.append(run_variant(work, tag, dataset, args, opts.datasets))
            record = rows[-1]
            for key, label in (("val", tag), ("holdout", f"{tag}, held-out validation"),
                               ("val_adapted", f"{tag} + adapters")):
                if key not in record:
                    continue
                shown = "; ".join(f"{task if len(record[key]) > 1 else ''} "
                                  + ", ".join(f"{k} {v}" for k, v in metrics.items() if k != "loss")
                                  for task, metrics in record[key].items()).strip()
                print(f"| {label} | {record['options']} | {shown} | {record['wall_s']} s |", flush=True)
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
