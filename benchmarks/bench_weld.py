"""Weld inspection benchmarks: accuracy, verdicts, latency, split protocols, few-label transfer.

Run from the repository root with the datasets folder configured, for example::

    export PLANTPULSE_DATASETS=/path/to/datasets
    nice -n 10 python benchmarks/bench_weld.py evaluate   # clip-split test: mAP per class, verdicts
    nice -n 10 python benchmarks/bench_weld.py evaluate --split grouped   # a grouped-trained checkpoint
    nice -n 10 python benchmarks/bench_weld.py latency    # PyTorch vs ONNX, 2 threads, median
    nice -n 10 python benchmarks/bench_weld.py verdict --checkpoint X  # detector + image classifiers, fused
    nice -n 10 python benchmarks/bench_weld.py clip       # the shipped recipe on the clip split (~1 h)
    nice -n 10 python benchmarks/bench_weld.py original --epochs 8; ... grouped --epochs 8  # comparisons
    nice -n 10 python benchmarks/bench_weld.py splits     # split leakage audit + mAP by test subset
    nice -n 10 python benchmarks/bench_weld.py transfer   # learning curve (~1 h) + PNG plot
    python benchmarks/bench_weld.py report                # markdown tables from the JSON results
    python benchmarks/bench_weld.py results               # write the weld section of docs/RESULTS.md

Results are written as JSON to ``benchmarks/results/weld/``; ``report`` prints the tables used in
docs/benchmarks.md and docs/RESULTS.md. The default protocol is the clip split (no video clip or
source photo in two parts, ``plantpulse.model.weld.splits``); ``grouped`` and ``original`` are
comparisons. A checkpoint is scored only on a split whose val/test images share no clip or photo
with its training part (``check_held_out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from bench_weld_report import DEFAULT_TRANSFER_EPOCHS  # beside this file (run as a script)

from plantpulse.connectors.images.validation import validate_image
from plantpulse.model.metrics import roc_auc
from plantpulse.model.weld.agreement import compare_detections
from plantpulse.model.weld.checkpoint import SHIPPED_CHECKPOINT, load_weld_model
from plantpulse.model.weld.dataset import drop_exact_duplicates, scan_yolo_dataset
from plantpulse.model.weld.evaluate import defective_labels, evaluate_detection
from plantpulse.model.weld.export import export_onnx
from plantpulse.model.weld.materialize import write_dataset
from plantpulse.model.weld.predict import OnnxWeldDetector, TorchWeldDetector, detect
from plantpulse.model.weld.runtime import ultralytics
from plantpulse.model.weld.splits import DEFAULT_STRATEGY, STRATEGIES, clip_key
from plantpulse.model.weld.train import TrainConfig
from plantpulse.model.weld.verdict import choose_threshold, verdict_metrics
from plantpulse.pipelines.weld.transfer import TransferSetup, run_transfer
from plantpulse.pipelines.weld.workflow import (
    check_held_out,
    json_safe,
    make_split,
    prepare_data,
    reject_scores,
    train_and_evaluate,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "weld"
CURVE_PNG = ROOT / "docs" / "img" / "weld_transfer_curve.png"
REJECT = ("Bad Weld", "Defect")
TARGETS = (0.005, 0.05, 0.10)
WORK = Path(os.environ.get("PLANTPULSE_BENCH_WORK", Path(tempfile.gettempdir()) / "plantpulse-bench-weld"))


def dataset_dir() -> Path:
    root = os.environ.get("PLANTPULSE_DATASETS")
    if not root:
        raise SystemExit("Set PLANTPULSE_DATASETS to the folder holding weld_surface_yolo.")
    return Path(root) / "weld_surface_yolo"


def save(name: str, data: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(json_safe(data), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def shipped_recipe() -> TrainConfig:
    """The training settings recorded in the shipped checkpoint's card."""
    card = load_weld_model(SHIPPED_CHECKPOINT).card
    config = dict(card.train["config"])
    config["weights"] = None
    return TrainConfig(**config)


def verdicts(detector: Any, data: Any) -> dict[str, Any]:
    """Verdict rates on val and test for each target false-reject rate (scores computed once)."""
    truth = {p: defective_labels(data.split.part(p), data.names, REJECT) for p in ("val", "test")}
    scores = {p: reject_scores(detector, data.split.part(p), REJECT) for p in ("val", "test")}
    out: dict[str, Any] = {p: {"auc": roc_auc(scores[p], truth[p])} for p in ("val", "test")}
    for target in TARGETS:
        threshold = choose_threshold(scores["val"], truth["val"], target)
        out[f"{target:g}"] = {p: asdict(verdict_metrics(scores[p], truth[p], threshold))
                              for p in ("val", "test")}
    return out


def cmd_evaluate(args: argparse.Namespace) -> None:
    """mAP per class on the test part of ``--split`` and verdict rates at several operating points.

    Refuses a checkpoint trained on another split when its training part shares clips or photos
    with this split's val/test images (the shipped one was trained on ``grouped``).
    """
    model = load_weld_model(args.checkpoint)
    data = prepare_data(dataset_dir(), WORK / "datasets", args.split, 0, REJECT)
    check_held_out(model, dataset_dir(), data.split)
    detection = evaluate_detection(model, data.data_yaml, "test")
    onnx = OnnxWeldDetector.load(export_onnx(model, WORK / "eval.onnx"))
    save("evaluate", {"checkpoint": Path(args.checkpoint).name, "version": model.version,
                      "strategy": data.split.strategy, "split": data.split.summary(), "detection": asdict(detection),
                      "verdict_pytorch": verdicts(TorchWeldDetector.from_model(model), data),
                      "verdict_onnx": verdicts(onnx, data), "train": model.card.train})


def image_reject_probability(split: Any, names: list[str], size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A whole-image classifier's P(defective) on val and test: gradient boosting on colour and
    gradient-texture features (the evaluation protocol's weld baseline), fitted on the train part
    with the number of rounds chosen on val."""
    from plantpulse.model.image_features import image_features
    from plantpulse.pipelines.evaluate.gbm import class_probabilities
    from plantpulse.pipelines.train.tasks.weld import load_image

    x, y = {}, {}
    for part in ("train", "val", "test"):
        items = split.part(part)
        x[part] = image_features(np.stack([load_image(item.image, size) for item in items]))
        y[part] = defective_labels(items, names, REJECT).astype(int)
    probs = class_probabilities(x["train"], y["train"], x["val"], y["val"],
                                np.concatenate([x["val"], x["test"]]), 2, 400, seed)[:, 1]
    return {"val": probs[: len(x["val"])], "test": probs[len(x["val"]):]}


def _binary_splits(split: Any, names: list[str], size: int) -> Any:
    """The split's train/val/test images as a two-class task (good / defective) for the networks."""
    from plantpulse.model.moe.config import TaskSpec
    from plantpulse.model.moe.training import TaskData, TaskSplits
    from plantpulse.pipelines.train.tasks.weld import load_image

    task = TaskSpec(name="verdict:weld", kind="classification", classes=("good", "defective"))
    parts = []
    for part in ("train", "val", "test"):
        items = split.part(part)
        parts.append(TaskData(name=f"weld_{part}", task=task, groups=np.arange(len(items)),
                              images=np.stack([load_image(item.image, size) for item in items]),
                              targets=defective_labels(items, names, REJECT).astype(np.int64)))
    return TaskSplits(*parts)


def network_reject_probabilities(split: Any, names: list[str], size: int, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """P(defective) on val and test from two whole-image networks trained on the train part, the
    epoch chosen on val: the evaluation's plain CNN (its per-task budget) and the multimodal MoE's
    image path (``tiny`` preset, the weld recipe of the per-task budget: its image size where it
    sets one, with its structured image features when the recipe has them)."""
    from plantpulse.model.moe.channels import vocabulary
    from plantpulse.model.moe.config import preset
    from plantpulse.model.moe.network import PlantPulseModel
    from plantpulse.model.moe.training.finetune import run_finetune
    from plantpulse.model.moe.training.runtime import StageOptions, seed_everything
    from plantpulse.pipelines.evaluate.moe import batcher_for, outputs
    from plantpulse.pipelines.evaluate.records import BUDGETS
    from plantpulse.pipelines.evaluate.scoring import train_plain

    splits = _binary_splits(split, names, size)
    budget = BUDGETS["per-task"]
    plain, _ = train_plain(splits, budget, seed)
    seed_everything(seed)
    recipe = budget.recipes["weld_surface_yolo"]
    overrides = recipe.get("overrides", {})
    moe_size = int(overrides.get("image_size", size))  # the recipe's image size, where it sets one
    moe_splits = splits if moe_size == size else _binary_splits(split, names, moe_size)
    structured = bool(recipe.get("options", {}).get("structured", False))
    extra: dict[str, Any] = {}
    if structured:  # the recipe's structured features, as the weld task builder makes them
        moe_splits = _with_image_features(moe_splits)
        extra = {"feature_tokens": True, "channel_vocab": vocabulary([moe_splits.train.feature_names])}
    moe = PlantPulseModel(preset(budget.preset, **{**budget.moe_overrides, "image_size": size, **overrides},
                                 tasks=(moe_splits.train.task,), **extra))
    opts = StageOptions(epochs=recipe["finetune_epochs"], batch_size=recipe["batch_size"], lr=recipe["lr"],
                        patience=recipe["patience"], image_flips=recipe.get("image_flips", False), seed=seed,
                        device="cpu", show_progress=False)
    run_finetune(moe, [moe_splits], opts, batcher_for(moe))
    moe_name = "MoE (image + features)" if structured else "MoE image path"
    return {name: {part: outputs(net.eval(), getattr(data, part))["probs"][:, 1] for part in ("val", "test")}
            for name, net, data in (("plain CNN", plain, splits), (moe_name, moe, moe_splits))}


def _with_image_features(splits: Any) -> Any:
    """``splits`` with the weld baselines' image features as structured features, standardised on
    the training images (what the weld task option ``structured`` gives the MoE)."""
    from dataclasses import replace

    from plantpulse.model.moe.training import TaskSplits
    from plantpulse.pipelines.train.tasks.weld import structured_features

    parts = [getattr(splits, part) for part in ("train", "val", "test")]
    images = np.concatenate([p.images for p in parts])
    train = np.arange(len(images)) < len(parts[0])
    table, names = structured_features(images, train)
    bounds = np.cumsum([0, *(len(p) for p in parts)])
    return TaskSplits(*(replace(p, features=table[a:b], feature_names=names)
                        for p, a, b in zip(parts, bounds[:-1], bounds[1:], strict=True)))


def cmd_verdict(args: argparse.Namespace) -> None:
    """Detector, whole-image classifier and their fusion, chosen on val, on the detector's split."""
    from plantpulse.pipelines.weld.fusion import Scores, fuse, markdown

    started = time.perf_counter()
    model = load_weld_model(args.checkpoint)
    data = prepare_data(dataset_dir(), WORK / "datasets", args.split, 0, REJECT)
    check_held_out(model, dataset_dir(), data.split)
    detector = TorchWeldDetector.from_model(model)
    classifiers = {"image classifier": image_reject_probability(data.split, list(data.names), args.imgsz),
                   **network_reject_probabilities(data.split, list(data.names), args.imgsz)}
    scores = {}
    for part in ("val", "test"):
        items = data.split.part(part)
        scores[part] = Scores({"detector": reject_scores(detector, items, REJECT),
                               **{name: found[part] for name, found in classifiers.items()}},
                              defective_labels(items, data.names, REJECT))
    report = fuse(scores["val"], scores["test"], TARGETS)
    print(markdown(report))
    save("verdict", {"checkpoint": Path(args.checkpoint).name, "version": model.version,
                     "strategy": data.split.strategy, "split": data.split.summary(),
                     "classifier": f"image classifier: gradient boosting on colour + gradient features (rounds "
                                   f"chosen on val); plain CNN and MoE: networks on the {args.imgsz} px "
                                   "images (the MoE at its recipe's image size where it sets one, and with "
                                   "the image features when its recipe has them; epoch chosen on val)",
                     "wall_seconds": round(time.perf_counter() - started, 1), **report.to_dict(),
                     "markdown": markdown(report)})


def _timed(fn: Any, items: list[Any], warmup: int = 5) -> list[float]:
    for item in items[:warmup]:
        fn(item)
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(times), "p90_ms": float(np.percentile(times, 90)),
            "n": len(times)}


def cmd_latency(args: argparse.Namespace) -> None:
    """Per-image latency (letterbox + network + NMS) with 2 threads, PyTorch and ONNX Runtime."""
    import torch

    torch.set_num_threads(args.threads)
    model = load_weld_model(args.checkpoint)
    data = prepare_data(dataset_dir(), WORK / "datasets", args.split, 0, REJECT)
    images = [validate_image(item.image) for item in data.split.test[: args.images]]
    out: dict[str, Any] = {"threads": args.threads, "images": len(images), "version": model.version,
                           "strategy": data.split.strategy}
    for size in args.sizes:
        torch_det = TorchWeldDetector.from_model(model, size)
        onnx_det = OnnxWeldDetector.load(export_onnx(model, WORK / f"lat{size}.onnx", size), args.threads)
        out[f"pytorch_{size}"] = _summary(_timed(lambda im, d=torch_det: detect(d, [im]), images))
        out[f"onnx_{size}"] = _summary(_timed(lambda im, d=onnx_det: detect(d, [im]), images))
        agreement = compare_detections(detect(torch_det, images), detect(onnx_det, images))
        out[f"agreement_{size}"] = asdict(agreement)
        print(size, out[f"pytorch_{size}"], out[f"onnx_{size}"], agreement)
    save("latency", out)


def cmd_protocol(args: argparse.Namespace) -> None:
    """Train the shipped recipe on one split protocol and evaluate on that split's test part.

    ``clip`` is the default protocol; ``grouped`` (by source photo, the shipped checkpoint's
    protocol) and ``original`` (the published folders) are comparisons, e.g. at a reduced
    ``--epochs`` budget.
    """
    strategy = args.command
    recipe = shipped_recipe()
    config = TrainConfig(**{**asdict(recipe), "epochs": args.epochs or recipe.epochs})
    data = prepare_data(dataset_dir(), WORK / "datasets", strategy, 0, REJECT)
    model, report = train_and_evaluate(data, config, WORK / "runs" / strategy,
                                       REJECT, 0.05, int8=True)
    save(strategy, {"version": model.version, "strategy": strategy, "split": data.split.summary(),
                    "report": report.to_dict(), "train": model.card.train})


def _clip_audit(split: Any) -> dict[str, Any]:
    clips = {p: split.clips(p) for p in ("train", "val", "test")}
    frames = sum(clip_key(i.source) in clips["train"] for i in split.test)
    return {"clips": {p: sorted(c) for p, c in clips.items()},
            "test_frames_of_train_clips": frames, "test_images": len(split.test)}


def cmd_splits(args: argparse.Namespace) -> None:
    """The three split protocols: sources per part, overlaps, video clips shared by train and test.

    The grouped split keeps every source photo (and its augmented copies) in one part, but frames
    of one video are different sources, so neighbouring near-identical frames can still sit in
    train and test; the clip split keeps each clip (``clip_key``) in one part. The shipped
    detector (trained on grouped) is scored on the grouped test part cut into video frames and
    the other images, to show how much that residual leak flatters the figure.
    """
    names, items = scan_yolo_dataset(dataset_dir())
    items, _ = drop_exact_duplicates(items)
    out: dict[str, Any] = {}
    for strategy in STRATEGIES:
        split = make_split(items, names, strategy, 0, REJECT)
        out[strategy] = {"summary": split.summary(), **_clip_audit(split)}
    grouped = make_split(items, names, "grouped", 0, REJECT)
    model = load_weld_model(args.checkpoint)
    subsets = {"video_frames": tuple(i for i in grouped.test if clip_key(i.source)),
               "other_images": tuple(i for i in grouped.test if not clip_key(i.source))}
    out["shipped_by_test_subset"] = {}
    for name, subset in subsets.items():
        # write_dataset wants train and val parts; only "test" is scored here.
        parts = {"train": subset, "val": subset, "test": subset}
        yaml_path = write_dataset(parts, WORK / "splits" / name, names)
        out["shipped_by_test_subset"][name] = asdict(evaluate_detection(model, yaml_path, "test"))
    save("splits", out)


def cmd_transfer(args: argparse.Namespace) -> None:
    """Pre-train without the held-out line, fine-tune vs scratch on 10/25/50 of its images."""
    ultralytics(WORK / "ultralytics")
    recipe = shipped_recipe()
    pretrain = TrainConfig(**{**asdict(recipe), "epochs": args.pretrain_epochs})
    finetune = TrainConfig(**{**asdict(recipe), "epochs": args.finetune_epochs, "batch": 8,
                              "nbs": 8, "val": False, "patience": args.finetune_epochs})
    setup = TransferSetup(seed=args.seed)
    started = time.perf_counter()

    def save_points(points: list[Any], complete: bool = False) -> None:
        save("transfer", {"setup": asdict(setup), "strategy": "clip", "pretrain": asdict(pretrain),
                          "finetune": asdict(finetune), "complete": complete,
                          "wall_seconds": round(time.perf_counter() - started, 1),
                          "points": [asdict(p) for p in points]})

    points = run_transfer(dataset_dir(), WORK / "transfer", pretrain, finetune, setup,
                          on_point=save_points)
    save_points(points, complete=True)
    plot_transfer()


def plot_transfer() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    transfer = json.loads((RESULTS / "transfer.json").read_text())
    points = transfer["points"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=120)
    zero = next(p for p in points if p["n_labels"] == 0)
    for start, style in (("pretrained", "o-"), ("scratch", "s--")):
        rows = [p for p in points if p["start"] == start and p["n_labels"] > 0]
        xs = ([0] if start == "pretrained" else []) + [p["n_labels"] for p in rows]
        ys = ([zero["metrics"]["map50"]] if start == "pretrained" else []) + \
            [p["metrics"]["map50"] for p in rows]
        label = "pre-trained, then fine-tuned" if start == "pretrained" else "from scratch"
        ax.plot(xs, ys, style, label=label)
    ax.set_xlabel("labelled images of the new line")
    ax.set_ylabel("mAP50 on the new line's test clip")
    ax.set_title(f"Weld detector: few-label transfer (YOLO11n, 320 px)\npre-training "
                 f"{transfer['pretrain']['epochs']} epochs, fine-tuning {transfer['finetune']['epochs']} "
                 "epochs, 1 seed", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    CURVE_PNG.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(CURVE_PNG)
    print(f"wrote {CURVE_PNG.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("evaluate", "latency", "splits", "verdict"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT)
    sub.choices["verdict"].add_argument("--imgsz", type=int, default=64,
                                        help="Image side for the whole-image classifier's features.")
    for name in ("evaluate", "latency", "verdict"):
        sub.choices[name].add_argument("--split", choices=STRATEGIES, default=DEFAULT_STRATEGY,
                                       help="Split protocol (default: clip; grouped and original "
                                            "are comparisons).")
    sub.choices["latency"].add_argument("--threads", type=int, default=2)
    sub.choices["latency"].add_argument("--images", type=int, default=100)
    sub.choices["latency"].add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    for name in STRATEGIES:
        sub.add_parser(name).add_argument("--epochs", type=int,
                                          help="Epochs (default: the shipped recipe's).")
    transfer = sub.add_parser("transfer")
    transfer.add_argument("--pretrain-epochs", type=int, default=DEFAULT_TRANSFER_EPOCHS[0])
    transfer.add_argument("--finetune-epochs", type=int, default=DEFAULT_TRANSFER_EPOCHS[1])
    transfer.add_argument("--seed", type=int, default=0)
    sub.add_parser("plot")
    sub.add_parser("report")
    sub.add_parser("results").add_argument("--out", type=Path, default=ROOT / "docs" / "RESULTS.md")
    args = parser.parse_args()
    ultralytics(WORK / "ultralytics")
    if args.command == "report":
        from bench_weld_report import print_report

        print_report(RESULTS)
        return
    if args.command == "results":
        from bench_weld_report import write_results_section

        write_results_section(RESULTS, args.out)
        print(f"wrote the weld section of {args.out}")
        return
    {"evaluate": cmd_evaluate, "latency": cmd_latency, "clip": cmd_protocol, "original": cmd_protocol,
     "grouped": cmd_protocol, "splits": cmd_splits, "verdict": cmd_verdict, "transfer": cmd_transfer, "plot": lambda _: plot_transfer()}[args.command](args)


if __name__ == "__main__":
    main()
