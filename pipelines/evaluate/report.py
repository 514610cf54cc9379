"""docs/RESULTS.md and the machine-readable JSON, written only from :class:`ProtocolResult` records.

The section ``## Weld inspection (YOLO)`` belongs to the weld detector's own benchmark: it is
copied over unchanged from the existing file (or left as a pointer when absent).

Protocols run separately add up: a protocol missing from this run but present in the existing
JSON is read back from there and reported again, with the command and commit that produced it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from plantpulse.pipelines.evaluate.records import ProtocolResult, Row, TargetCheck

KEPT_SECTION = "## Weld inspection (YOLO)"
_PERCENT = {"accuracy", "coverage80"}
_DIGITS = {"rmse": 2, "phm08": 0, "width80": 1, "macro_f1": 3, "pr_auc": 3, "c_index": 3}
_NAMES = {"rmse": "RMSE", "phm08": "PHM08 score", "coverage80": "80 % cover", "width80": "80 % width",
          "accuracy": "accuracy",
          "macro_f1": "macro-F1", "pr_auc": "PR-AUC", "c_index": "C-index"}


def fmt(metric: str, value: tuple[float, float] | None) -> str:
    if value is None:
        return "–"
    mean, sd = value
    scale, digits = (100.0, 1) if metric in _PERCENT else (1.0, _DIGITS.get(metric, 3))
    text = f"{mean * scale:.{digits}f}"
    if not math.isnan(sd):
        text += f" ± {sd * scale:.{digits}f}"
    return text + (" %" if metric in _PERCENT else "")


def table(result: ProtocolResult) -> str:
    cases = list(dict.fromkeys(c for c, _ in result.columns))
    head = [f"{c} {_NAMES.get(m, m)}".strip() if len(cases) > 1 else _NAMES.get(m, m) for c, m in result.columns]
    lines = ["| model | " + " | ".join(head) + " | seeds | wall (s) |",
             "|---|" + "---:|" * len(head) + "---|---:|"]
    order = {"moe": 0, "ablation": 1, "baseline": 2, "published": 3}
    for row in sorted(result.rows, key=lambda r: order.get(r.family, 9)):
        cells = [fmt(m, row.mean_sd(c, m)) for c, m in result.columns]
        seeds = ", ".join(map(str, row.seeds)) if row.family != "published" else "—"
        wall = f"{row.wall_s:.0f}" if row.family != "published" else "—"
        name = f"**{row.model}**" if row.family == "moe" else row.model
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seeds} | {wall} |")
    return "\n".join(lines)


def section(result: ProtocolResult, base: Path, command: str = "") -> str:
    parts = [f"## {result.title}", "", result.protocol, ""]
    run = result.details.get("run") if isinstance(result.details.get("run"), dict) else None
    if run and run.get("command") != command:
        parts += [f"_Kept from an earlier run: `{run.get('command')}` at commit `{run.get('commit')}` "
                  f"({run.get('started')}, budget `{run.get('budget')}`)._", ""]
    if result.rows:
        parts += [table(result), ""]
        sources = [f"- {r.model}: {r.note}" for r in result.rows if r.family == "published" and r.note]
        if sources:
            parts += ["Published figures (not re-measured here):", *sources, ""]
    for extra in result.extra_tables:
        parts += [extra, ""]
    if result.targets:
        parts += ["Targets:", ""] + [f"- {'met' if t.met else '**missed**'}: {t.name} {t.target} — measured "
                                     f"{t.value}{'; ' + t.why if t.why else ''}" for t in result.targets] + [""]
    for caption, path in result.plots:
        parts += [f"![{caption}]({os.path.relpath(path, base)})", ""]
    parts += [f"- {n}" for n in result.notes] + [f"- Protocol wall time: {result.wall_s / 60:.1f} min.", ""]
    return "\n".join(parts)


def kept_section(existing: str) -> str:
    """The weld detector's own section of an existing RESULTS.md, verbatim (or a pointer)."""
    start = existing.find(KEPT_SECTION)
    if start < 0:
        return (f"{KEPT_SECTION}\n\n_Reported by the weld detector's benchmark "
                f"(`python benchmarks/bench_weld.py results`); this section is maintained there._\n")
    end = existing.find("\n## ", start + len(KEPT_SECTION))
    return existing[start:] if end < 0 else existing[start:end + 1]


def _recipe_parts(recipe: dict[str, Any]) -> list[str]:
    """``lr 0.001``, ``batch 32``, ``window=50``, ...: what a recipe sets beyond its epochs."""
    names = {"lr": "lr", "batch_size": "batch", "patience": "patience", "class_weight_power": "class-weight power",
             "image_flips": "image flips", "word_dropout": "word dropout",
             "average_epochs": "weights averaged over epochs", "image_crop_min": "random crops down to",
             "rul_mse_weight": "RUL squared-error weight", "label_smoothing": "label smoothing",
             "weight_decay": "weight decay"}
    parts = [f"mean of {recipe['members']} teachers on one split"] if recipe.get("members", 1) > 1 else []
    parts += [names[k] if recipe[k] is True else f"{names[k]} {recipe[k]}" for k in names if k in recipe]
    return parts + [f"{k}={v}" for k, v in {**recipe.get("overrides", {}), **recipe.get("options", {})}.items()]


def _recipe_extras(recipe: dict[str, Any]) -> str:
    """`` with window=50 (cmapss-FD001: RUL squared-error weight 1.0)``: the recipe's settings, then
    each case's own."""
    parts = _recipe_parts(recipe)
    cases = "".join(f" ({case}: {', '.join(_recipe_parts(extra))})" for case, extra in recipe.get("cases", {}).items())
    return (f" with {', '.join(parts)}" if parts else "") + cases


def budget_line(budget: Any) -> str:
    """The training budget, and how it differs from the designed ``full`` one."""
    from plantpulse.pipelines.evaluate.records import BUDGETS

    if not isinstance(budget, dict):
        return f"Budget: `{budget}`."
    if budget.get("scope") == "per_task":
        recipes = "; ".join(
            f"{dataset} {r.get('pretrain_epochs', budget.get('pretrain_epochs'))} pre-training + "
            f"{r.get('finetune_epochs', budget.get('finetune_epochs'))} fine-tuning epochs" + _recipe_extras(r)
            for dataset, r in budget.get("recipes", {}).items())
        seeded = budget.get("seeded_protocols")
        return (f"Budget: `{budget.get('name')}`: **one MoE per task**, each trained on that task alone with the "
                f"`{budget.get('preset')}` preset, batch {budget.get('batch_size')}, lr {budget.get('lr')}, epochs of "
                + ("one pass over the task's training data" if budget.get("moe_steps") is None
                   else f"{budget.get('moe_steps')} steps") + ", the best epoch on validation kept (patience "
                f"{budget.get('patience')}), no distillation: {recipes}."
                + (f" Only {', '.join(seeded)} {'runs' if len(seeded) == 1 else 'run'} every seed, the other "
                   "protocols the first one." if seeded else ""))
    full = BUDGETS["full"].model_dump(mode="json")
    changed = [f"{k} {full[k]} → {v}" for k, v in budget.items()
               if k not in ("name", "seeded_protocols") and k in full and full[k] != v]
    if budget.get("seeded_protocols"):
        seeded = budget["seeded_protocols"]
        changed.append(f"only {', '.join(seeded)} {'runs' if len(seeded) == 1 else 'run'} every seed, the other protocols "
                       "the first one")
    if not changed:
        return f"Budget: `{budget.get('name')}` (the designed full budget)."
    return (f"Budget: `{budget.get('name')}`, **reduced from the designed `full` budget** to fit the time "
            f"available on this machine: {'; '.join(changed)}. The figures are those of this smaller budget.")


def _seed_line(meta: dict[str, Any]) -> str:
    per = meta.get("protocol_seeds") or {}
    if all(list(v) == list(meta["seeds"]) for v in per.values()):
        return str(meta["seeds"])
    return "; ".join(f"{name} {list(v)}" for name, v in per.items())


def summary(results: list[ProtocolResult]) -> str:
    lines = ["| target | goal | measured | met |", "|---|---|---:|---|"]
    for result in results:
        for t in result.targets:
            lines.append(f"| {t.name} | {t.target} | {t.value} | {'yes' if t.met else '**no**'} |")
    return "\n".join(lines)


def markdown(results: list[ProtocolResult], meta: dict[str, Any], existing: str, base: Path,
             commentary: str = "") -> str:
    if meta.get("from_checkpoint"):
        how = ("Every figure on this page was recomputed by one command from the committed checkpoints "
               "(`model/checkpoints/`; the commands that trained them are in its README). MoE and plain "
               "networks are loaded; the feature and lifelines baselines are refitted (deterministic):")
    else:
        how = ("Every figure on this page was produced by one command and is recomputed from the committed "
               "checkpoints by the same command with `--from-checkpoint`:")
    head = [
        "# Evaluation results", "", how, "",
        f"```bash\n{meta['command']}\n```", "",
        f"- Commit `{meta['commit']}`{' (with uncommitted changes)' if meta.get('dirty') else ''}; "
        f"run {meta['started']} → {meta['finished']} ({meta['wall_s'] / 60:.0f} min wall).",
        f"- Machine: {meta['machine']}. Seeds: {_seed_line(meta)}.",
        f"- {budget_line(meta.get('budget'))}",
        "- Cells are mean ± sample standard deviation over the seeds listed in each row; 'wall' is the "
        "training + scoring wall time of that row summed over its seeds (shared CPU, so a rough guide; "
        "for checkpointed models it is the wall time recorded when they were trained).",
        ("- MoE rows: the teacher of an MoE trained on that task alone (`plantpulse train --tasks`; one per "
         "C-MAPSS subset and seed, one per CWRU held-out load or size); baselines are fitted per task on the "
         "same split." if isinstance(meta.get("budget"), dict) and meta["budget"].get("scope") == "per_task" else
         "- MoE rows: the teacher and the distilled student of one multi-task model trained on all six "
         "datasets at once (`plantpulse train`); baselines are fitted per task."), "",
    ]
    runs = {r.name: r.details["run"] if isinstance(r.details.get("run"), dict) else _run(meta, r.name)
            for r in results}
    if any(run.get("command") != meta["command"] for run in runs.values()):
        head.insert(-1, "- Protocols were run separately and add up here; a section made by another command "
                    "names it. Seeds per protocol: " + "; ".join(
                        f"{name} {run.get('seeds')} (budget `{run.get('budget')}`)" for name, run in runs.items())
                    + ". C-MAPSS uses at least 3 seeds as its protocol requires; a protocol with fewer seeds "
                    "was run so to fit the time available.")
    if commentary:
        head += [commentary.strip(), ""]
    head += ["## Targets", "", summary(results), ""]
    body = [section(r, base, meta["command"]) for r in results if r.name != "weld"]
    weld = [section(r, base, meta["command"]) for r in results if r.name == "weld"]
    return "\n".join(head + body + weld + [kept_section(existing)])


def _row_json(row: Row) -> dict[str, Any]:
    cells = {f"{c}|{m}": list(v) for (c, m), v in row.cells.items()}
    summary_ = {k: row.mean_sd(*k.split("|")) for k in cells}
    return {"model": row.model, "family": row.family, "seeds": list(row.seeds), "wall_s": row.wall_s,
            "note": row.note, "cells": cells, "mean_sd": summary_}


def _run(meta: dict[str, Any], protocol: str | None = None) -> dict[str, Any]:
    budget = meta.get("budget")
    seeds = meta.get("protocol_seeds", {}).get(protocol, meta.get("seeds"))
    return {"command": meta.get("command"), "commit": meta.get("commit"), "started": meta.get("started"),
            "budget": budget.get("name") if isinstance(budget, dict) else budget, "seeds": seeds}


def to_json(results: list[ProtocolResult], meta: dict[str, Any], base: Path | None = None) -> dict[str, Any]:
    """The machine-readable record; plot paths relative to ``base`` (the JSON's folder) when given."""
    def where(path: Path) -> str:
        return os.path.relpath(path, base) if base is not None else str(path)

    return {"meta": meta, "protocols": [{
        "name": r.name, "title": r.title, "wall_s": round(r.wall_s, 1), "protocol": r.protocol,
        "columns": [list(c) for c in r.columns], "rows": [_row_json(row) for row in r.rows],
        "targets": [t.__dict__ for t in r.targets], "notes": list(r.notes), "extra_tables": list(r.extra_tables),
        "plots": [where(p) for _, p in r.plots], "plot_captions": [c for c, _ in r.plots],
        "details": {"run": _run(meta, r.name), **r.details}} for r in results]}


def from_json(item: dict[str, Any], base: Path = Path()) -> ProtocolResult:
    """A protocol's record read back from the JSON written by :func:`to_json` (plots relative to ``base``)."""
    rows = tuple(Row(r["model"], r["family"], {tuple(k.split("|", 1)): tuple(math.nan if v is None else v for v in vals)
                                              for k, vals in r["cells"].items()},
                     tuple(r["seeds"]), r["wall_s"], r["note"]) for r in item["rows"])
    plots = tuple(zip(item.get("plot_captions", item["plots"]), (base / p for p in item["plots"]), strict=True))
    return ProtocolResult(item["name"], item["title"], item["protocol"],
                          tuple(tuple(c) for c in item.get("columns", ())), rows,
                          tuple(TargetCheck(**t) for t in item["targets"]), plots, tuple(item["notes"]),
                          tuple(item.get("extra_tables", ())), item["wall_s"], item.get("details", {}))


def merged(results: list[ProtocolResult], json_path: Path, order: list[str]) -> list[ProtocolResult]:
    """``results`` plus every protocol of the existing JSON this run did not produce, in ``order``."""
    if not json_path.is_file():
        return results
    done = {r.name for r in results}
    try:
        old = [from_json(p, json_path.parent) for p in json.loads(json_path.read_text(encoding="utf-8")).get("protocols", [])]
    except (ValueError, KeyError, TypeError):
        return results  # an unreadable or older-format file is replaced, not merged
    kept = [r for r in old if r.name not in done and "(failed)" not in r.title]
    rank = {name: i for i, name in enumerate(order)}
    return sorted(results + kept, key=lambda r: rank.get(r.name, len(rank)))


def write(results: list[ProtocolResult], meta: dict[str, Any], md_path: Path, json_path: Path,
          commentary: str = "", order: list[str] | None = None) -> None:
    """Write the report and JSON; with ``order`` (all protocol names), protocols of the existing
    JSON that this run did not produce are kept."""
    if order is not None:
        results = merged(results, json_path, order)
    existing = md_path.read_text(encoding="utf-8") if md_path.is_file() else ""
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(results, meta, existing, md_path.parent, commentary), encoding="utf-8")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(_clean(to_json(results, meta, json_path.parent)), indent=1) + "\n", encoding="utf-8")


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        return _clean(value.item())
    return value
