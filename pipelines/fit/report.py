"""The fit report: ``fit-report.json`` (everything) and ``fit-report.md`` (the comparison a reader
needs: data, split, every learner's held-out and validation metrics, what was registered and
promoted, notes)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plantpulse.pipelines.fit.metrics import HEADLINE
from plantpulse.pipelines.fit.plots import LEARNER_TITLES, comparison_plot
from plantpulse.pipelines.fit.spec import FitSpec

if TYPE_CHECKING:
    from plantpulse.pipelines.fit.job import Prepared
    from plantpulse.pipelines.fit.learners import Trained

_SHOWN = ("rmse", "mae", "phm08", "coverage80", "concordance", "accuracy", "macro_f1", "auroc", "threshold",
          "false_alarm_rate", "wall_s")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def write_report(out_dir: Path, spec: FitSpec, info: dict[str, Any], metrics: dict[str, dict[str, Any]],
                 versions: dict[str, str], winner: str, promoted: str | None, trained: list[Trained],
                 prep: Prepared, notes: list[str] | tuple[str, ...] = ()) -> Path:
    """Write both files and the comparison figure to ``out_dir``; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    caption, figure = comparison_plot(out_dir, spec, prep, trained, metrics)
    key, direction = HEADLINE[spec.target]
    payload = {"spec": spec.model_dump(mode="json"), "data": info, "metrics": metrics, "versions": versions,
               "headline": {"metric": key, "better": direction},
               "titles": {t.kind: LEARNER_TITLES.get(t.kind, t.kind) for t in trained},
               "winner": winner, "promoted": promoted, "files": {t.kind: str(t.path) for t in trained},
               "learners": {t.kind: t.origin for t in trained},
               "plots": [{"caption": caption, "file": figure}]}
    (out_dir / "fit-report.json").write_text(json.dumps(_clean(payload), indent=1) + "\n", encoding="utf-8")
    kinds = list(metrics)
    shown = [m for m in _SHOWN if any(m in metrics[k] for k in kinds)]
    lines = [
        f"# Fit report: {spec.asset_type} / {spec.target}", "",
        f"- label source: {spec.source}",
        f"- assets: {len(info['assets'])} ({', '.join(info['assets'])}); held out: {', '.join(info['test_assets'])}",
        f"- split: by {info['split']}; windows train/val/test: {info['rows']['train']}/{info['rows']['val']}/"
        f"{info['rows']['test']}",
    ]
    if spec.snapshots:
        lines.append(f"- channels: {', '.join(info['channels'])}; one window per snapshot: its first {spec.window} "
                     f"samples at {1 / info['step_seconds']:g} Hz")
    else:
        lines.append(f"- channels: {', '.join(info['channels'])}; grid step {info['step_seconds']:g} s; "
                     f"window {spec.window} steps")
    if spec.target == "rul":
        lines.append(f"- RUL unit: {info['rul_unit']}; cap {info['rul_cap']:g}; right-censored assets: "
                     f"{', '.join(info['censored_assets']) or 'none'}; training windows censored below the cap: "
                     f"{info['censored_train_windows']} (the survival model fits them, the others cannot)")
        if "constant_rmse" in info:
            lines.append(f"- predicting the training mean everywhere: held-out rmse {info['constant_rmse']:.4g}")
    if spec.target == "class":
        lines.append(f"- classes: {', '.join(info['classes'])}")
    if "windows_with_log_text" in info:
        read = ("read by the MoE as text" if info.get("log_text_read")
                else "not read (no event before any training window)" if spec.log_events else "off (log_events = 0)")
        lines.append(f"- maintenance log: {read}; {info['windows_with_log_text']} of {info['windows']} windows have "
                     f"events in the {spec.log_lookback_days:g} days before their end")
    if "log_features" in info:
        names = info["log_features"]
        subjects = [n.removeprefix("hours since ") for n in names if n.startswith("hours since ")]
        lines.append(f"- maintenance-log features: {len(names)} inputs of every learner (per subject: counts in the last "
                     f"24 h and 7 d, hours since the last one), for {', '.join(subjects)}" if names else
                     "- maintenance-log features: none (no event code or component occurs twice in the training "
                     "assets' logs)")
    lines += [f"- {t.kind}: {t.origin}" for t in trained]
    lines += ["", f"## Held-out metrics ({key}, {direction} is better; test assets, reported only)", "",
              "| metric | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    lines += [f"| {m} | " + " | ".join(_fmt(metrics[k].get(m, math.nan)) for k in kinds) + " |" for m in shown]
    validated = [m for m in _SHOWN if any(f"val_{m}" in metrics[k] for k in kinds)]
    lines += ["", f"## Validation metrics (the winner is the best on validation {key})", "",
              "| metric | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    lines += [f"| {m} | " + " | ".join(_fmt(metrics[k].get(f"val_{m}", math.nan)) for k in kinds) + " |"
              for m in validated]
    if spec.target == "class":
        for k in kinds:
            lines += ["", f"Confusion of {k} (rows: true {', '.join(info['classes'])}; columns: predicted):", ""]
            lines += ["    " + " ".join(f"{v:5d}" for v in row) for row in metrics[k]["confusion"]]
    lines += ["", f"![{caption}]({figure})"]
    lines += ["", "## Registry", ""]
    lines += [f"- {kind}: {label}" for kind, label in versions.items()]
    lines.append(f"- best on validation {key}: {winner}; promoted: {promoted or 'none (--no-promote)'}")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    path = out_dir / "fit-report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
