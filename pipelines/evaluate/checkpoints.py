"""model/checkpoints/README.md: which command made each committed checkpoint, and its size."""

from __future__ import annotations

from pathlib import Path

from plantpulse.pipelines.evaluate.moe import MoeModels, train_commands
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

**Turbofan scoring** (demo and scoring job): `main-s0-student.safetensors` — the distilled
student of the multi-task model; it holds the `rul:turbofan` and `anomaly:turbofan` heads with the
C-MAPSS per-operating-condition normaliser and 30-cycle window. Load it with

```python
from plantpulse.model.inference import load_predictor
predictor = load_predictor("model/checkpoints/main-s0-student.safetensors", quantize=True)
records = predictor.predict_sensor_windows(windows, predictor.channels("turbofan"), "turbofan")
```

(`windows`: raw values, shape (B, 30, 24): the 3 operational settings then sensors 1–21.)
"""


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.0f} KiB" if path.is_file() else "missing"


def write_readme(ctx: EvalContext) -> Path:
    lines = [HEAD, "| checkpoint | size | made by |", "|---|---:|---|"]
    experiments = [v for k, v in ctx.cache.items() if k.startswith("moe:") and isinstance(v, MoeModels)]
    for models in sorted(experiments, key=lambda m: m.spec.name):
        commands = "<br>".join(f"`{c}`" for c in train_commands(ctx, models.spec))
        for kind, path in models.paths.items():
            lines.append(f"| `{path.name}` | {_size(path)} | {commands if kind == 'teacher' else 'the same run'} |")
    plain = sorted((ctx.checkpoint_dir / "plain").glob("*.safetensors"))
    if plain:
        total = sum(p.stat().st_size for p in plain) / 1024
        lines.append(f"| `plain/*.safetensors` ({len(plain)} files) | {total:.0f} KiB | `plantpulse evaluate` "
                     f"(budget `{ctx.budget.name}`) |")
    everything = sum(p.stat().st_size for p in ctx.checkpoint_dir.rglob("*.safetensors")) / 2**20
    lines += ["", f"Total: {everything:.1f} MiB. The `--home runs/<name>` folder of each command holds its "
              f"resumable run; copy `runs/<name>/models/<name>-teacher-v<N>.safetensors` (highest N) and "
              f"`…-student-v1.safetensors` here under the names above.", ""]
    path = ctx.checkpoint_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
