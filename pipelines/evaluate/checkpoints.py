"""model/checkpoints/README.md: which command made each committed checkpoint, and its size."""

from __future__ import annotations

import json
from pathlib import Path

from plantpulse.pipelines.evaluate.records import EvalContext

HEAD = """# Evaluation checkpoints

Small checkpoints of every model reported in [docs/RESULTS.md](../../docs/RESULTS.md), so that

```bash
PLANTPULSE_DATASETS=/path/to/datasets plantpulse evaluate --from-checkpoint
```

recomputes the reported MoE and plain-network figures without training (feature and lifelines
baselines are refitted; they are deterministic and take minutes). All files are safetensors (no
pickle). `<name>-teacher` / `<name>-student` were made by `plantpulse train` (through
`plantpulse evaluate`, which runs the same training job and copies the finished versions here);
`plain/<key>` are the plain-CNN baselines, trained by `plantpulse evaluate` itself.

Each MoE checkpoint stores the fingerprint of the data it was trained on (sha256 over its
training split and pre-training data). `plantpulse evaluate` loads or reuses a checkpoint only
when that fingerprint equals the one of the data the current code builds for it: the same
training commands are not proof, since a task builder's default can move its split. With
`--from-checkpoint` a mismatch is an error; without it, the experiment is trained again.

The 80 % RUL interval a C-MAPSS teacher stores (`extra["rul_intervals"]`) follows the current
calibration rule (the larger multiplier over all validation units and over those below the cap,
`model/moe/calibration.py`). The FD004 teachers were trained before that rule and were
calibrated again on their own validation cuts, weights unchanged, by
`python -m plantpulse.pipelines.train.recalibrate model/checkpoints/cmapss-FD004-s?-teacher.safetensors`;
the FD001, FD002 and FD003 teachers, trained later, were calibrated by their training job.

The models the product scores with are not here: they are in `model/shipped/` (the demo's MoE
students, and the backbone `plantpulse fit` adapts), each with the command that made it.
"""


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.0f} KiB" if path.is_file() else "missing"


def write_readme(ctx: EvalContext) -> Path:
    """List every experiment recorded in ``checkpoint_dir`` (its ``<name>.json``), whichever run made it."""
    lines = [HEAD, "| checkpoint | size | training wall | made by |", "|---|---:|---:|---|"]
    for record_path in sorted(ctx.checkpoint_dir.glob("*.json")):
        record = json.loads(record_path.read_text(encoding="utf-8"))
        name = record_path.stem
        commands = "<br>".join(f"`{c}`" for c in record.get("commands", []))
        for kind in ("teacher", "student"):
            path = ctx.checkpoint_dir / f"{name}-{kind}.safetensors"
            if path.is_file():
                made = (f"{commands} (budget `{record.get('budget')}`)" if kind == "teacher" else "the same run")
                wall = f"{record.get('wall_s', 0) / 60:.1f} min" if kind == "teacher" else ""
                lines.append(f"| `{path.name}` | {_size(path)} | {wall} | {made} |")
    plain = sorted((ctx.checkpoint_dir / "plain").glob("*.safetensors"))
    if plain:
        total = sum(p.stat().st_size for p in plain) / 1024
        lines.append(f"| `plain/*.safetensors` ({len(plain)} files) | {total:.0f} KiB | in each file's metadata | "
                     f"`plantpulse evaluate` (the protocol that reports them) |")
    everything = sum(p.stat().st_size for p in ctx.checkpoint_dir.rglob("*.safetensors")) / 2**20
    lines += ["", f"Total: {everything:.1f} MiB. The `--home runs/<name>` folder of each command holds its "
              f"resumable run; copy `runs/<name>/models/<name>-teacher-v<N>.safetensors` (highest N) and "
              f"`…-student-v1.safetensors` here under the names above. `plantpulse evaluate` itself runs the "
              f"same training job and copies the files here, with `<name>.json` (commands, wall time).", ""]
    path = ctx.checkpoint_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
