"""CWRU detail tables (every cross-load pair, every held-out size) and the target checks."""

from __future__ import annotations

import numpy as np

from plantpulse.pipelines.evaluate.records import Row, TargetCheck

Pairs = dict[str, dict[tuple[int, int], dict[str, float]]]
Sizes = dict[str, dict[float, dict[str, float]]]


def cross_load_table(cross: Pairs) -> str:
    """Accuracy per ordered (train load -> test load) pair, one row per model."""
    pairs = sorted(next(iter(cross.values())))
    head = "| model | " + " | ".join(f"{a}→{b} hp" for a, b in pairs) + " | mean |"
    lines = ["**Cross-load accuracy per pair** (train on one load, test on another; %)", "", head,
             "|---|" + "---:|" * (len(pairs) + 1)]
    for model, values in cross.items():
        accs = [100 * values[p]["accuracy"] for p in pairs]
        lines.append(f"| {model} | " + " | ".join(f"{a:.1f}" for a in accs) + f" | {np.mean(accs):.1f} |")
    return "\n".join(lines)


def size_table(sizes: Sizes) -> str:
    """Fault-type accuracy and macro-F1 per held-out diameter, one row per model."""
    held = sorted(next(iter(sizes.values())))
    head = "| model | " + " | ".join(f'test {s}" acc / F1' for s in held) + " |"
    lines = ["**Unseen fault size per held-out diameter** (trained on the other two; fault type, 4 classes)",
             "", head, "|---|" + "---:|" * len(held)]
    for model, values in sizes.items():
        cells = [f"{100 * values[s]['accuracy']:.1f} % / {values[s]['macro_f1']:.3f}" for s in held]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(rows: tuple[Row, ...], cross: Pairs, sizes: Sizes) -> tuple[TargetCheck, ...]:
    checks = []
    goals = (("same-load", 0.995, "≥ 99.5 %"), ("cross-load mean", 0.95, "≥ 95 % average"),
             ("unseen size mean", 0.70, "≥ 70 %"))
    for row in rows:
        if row.model not in ("MoE teacher", "MoE student"):
            continue
        for case, bound, text in goals:
            value = row.mean_sd(case, "accuracy")
            if value is not None:
                checks.append(TargetCheck(f"{row.model} CWRU {case} accuracy", text,
                                          f"{100 * value[0]:.2f} %", value[0] >= bound))
    return tuple(checks)
