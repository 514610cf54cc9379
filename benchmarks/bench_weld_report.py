"""Markdown tables from the weld benchmark results (``python benchmarks/bench_weld.py report``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _pct(rate: float | None, ci: list[float]) -> str:
    if rate is None:
        return "n/a"
    return f"{100 * rate:.1f} % ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})"


def detection_table(detection: dict[str, Any]) -> str:
    rows = ["| class | images | boxes | precision | recall | mAP50 | mAP50-95 |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for c in detection["per_class"]:
        rows.append(f"| {c['name']} | {c['images']} | {c['instances']} | {c['precision']:.3f} | "
                    f"{c['recall']:.3f} | {c['ap50']:.3f} | {c['ap50_95']:.3f} |")
    rows.append(f"| **all** | {detection['n_images']} | | | | **{detection['map50']:.3f}** | "
                f"**{detection['map50_95']:.3f}** |")
    return "\n".join(rows)


def verdict_table(by_target: dict[str, Any]) -> str:
    rows = ["| target false reject (val) | threshold | false reject, test | false accept, test |",
            "|---:|---:|---:|---:|"]
    for target, parts in by_target.items():
        if target in ("val", "test"):
            continue
        test = parts["test"]
        rows.append(
            f"| {100 * float(target):g} % | {test['threshold']:.3f} | "
            f"{test['false_rejects']}/{test['n_good']} = "
            f"{_pct(test['false_reject_rate'], test['false_reject_ci'])} | "
            f"{test['false_accepts']}/{test['n_defective']} = "
            f"{_pct(test['false_accept_rate'], test['false_accept_ci'])} |")
    return "\n".join(rows)


def latency_table(latency: dict[str, Any]) -> str:
    rows = ["| input | backend | median ms/image | p90 ms/image | boxes matched (ONNX vs PyTorch) |",
            "|---:|---|---:|---:|---|"]
    sizes = sorted({int(k.split("_")[1]) for k in latency if k.startswith("onnx_")})
    for size in sizes:
        agreement = latency[f"agreement_{size}"]
        match = f"{agreement['matched']}/{agreement['boxes']}, max {agreement['max_corner_px']:.3f} px"
        for backend in ("pytorch", "onnx"):
            s = latency[f"{backend}_{size}"]
            rows.append(f"| {size} px | {'PyTorch' if backend == 'pytorch' else 'ONNX Runtime'} | "
                        f"{s['median_ms']:.1f} | {s['p90_ms']:.1f} | {match if backend == 'onnx' else ''} |")
    return "\n".join(rows)


def transfer_table(transfer: dict[str, Any]) -> str:
    points = transfer["points"]
    rows = ["| labelled images | pre-trained + fine-tuned mAP50 / mAP50-95 | from scratch mAP50 / mAP50-95 |",
            "|---:|---:|---:|"]
    for n in sorted({p["n_labels"] for p in points}):
        cells = []
        for start in ("pretrained", "scratch"):
            p = next((p for p in points if p["n_labels"] == n and p["start"] == start), None)
            cells.append(f"{p['metrics']['map50']:.3f} / {p['metrics']['map50_95']:.3f}" if p else "–")
        rows.append(f"| {n} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)


def print_report(results: Path) -> None:
    evaluate = _load(results, "evaluate")
    if evaluate:
        print("## grouped test: detection\n" + detection_table(evaluate["detection"]))
        pt = evaluate["verdict_pytorch"]
        print(f"\nreject-score ROC AUC: val {pt['val']['auc']:.3f}, test {pt['test']['auc']:.3f}")
        print("\n## grouped test: verdicts (PyTorch)\n" + verdict_table(pt))
        print("\n## grouped test: verdicts (ONNX)\n" + verdict_table(evaluate["verdict_onnx"]))
        train = evaluate["train"]
        print(f"\ntraining: {train['wall_seconds'] / 60:.1f} min, {train['epochs_run']} epochs")
    original = _load(results, "original")
    if original:
        print("\n## original split: detection\n" + detection_table(original["report"]["detection"]))
        print(f"\nsplit: {original['split']}; training {original['train']['wall_seconds'] / 60:.1f} min")
        verdict = original["report"]["verdict"]
        print(verdict_table({str(verdict["target_false_reject"]): verdict}))
    latency = _load(results, "latency")
    if latency:
        print(f"\n## latency ({latency['threads']} threads, {latency['images']} images)\n"
              + latency_table(latency))
    transfer = _load(results, "transfer")
    if transfer:
        print("\n## transfer\n" + transfer_table(transfer))
