"""Training configuration checks, a tiny real training run, and transfer helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantpulse.data.core.errors import DatasetError, InputDataError
from plantpulse.model.weld.checkpoint import save_weld_model
from plantpulse.model.weld.dataset import LabelledImage
from plantpulse.model.weld.evaluate import evaluate_detection
from plantpulse.model.weld.synthetic import NAMES, write_synthetic_dataset
from plantpulse.model.weld.train import TrainConfig, train_detector
from plantpulse.pipelines.weld.transfer import TransferSetup, labelled_subsets, transfer_data
from plantpulse.pipelines.weld.workflow import prepare_data


@pytest.mark.parametrize(
    ("changes", "match"),
    [({"model": "yolo11n.pt"}, "must be a model YAML such as 'yolo11n.yaml'"),
     ({"imgsz": 100}, "multiple of 32"),
     ({"imgsz": 16}, r"imgsz must be in \[32, 2048\]"),
     ({"epochs": 0}, r"epochs must be in \[1, 10000\]")],
    ids=["weights-name", "stride", "too-small", "epochs"],
)
def test_config_errors(changes: dict, match: str) -> None:
    with pytest.raises(InputDataError, match=match):
        TrainConfig(**changes).check()


def test_labelled_subsets_are_nested() -> None:
    pool = [LabelledImage(Path(f"{i}.jpg"), (), "train", str(i), str(i)) for i in range(60)]
    subsets = labelled_subsets(pool, (50, 10, 25), seed=3)
    assert [len(s) for s in subsets.values()] == [10, 25, 50]
    assert set(subsets[10]) <= set(subsets[25]) <= set(subsets[50])


def test_transfer_needs_a_big_enough_pool(tmp_path: Path) -> None:
    root = write_synthetic_dataset(tmp_path, {"train": 6, "valid": 3, "test": 3}, size=64)
    setup = TransferSetup(group_pattern="test-", pool_pattern="test-weld00[01]", sizes=(10,))
    with pytest.raises(DatasetError, match="2 pool sources and 1 test sources; need >= 10"):
        transfer_data(root, setup)


@pytest.mark.slow
def test_tiny_training_run_and_fine_tune(tmp_path: Path) -> None:
    root = write_synthetic_dataset(tmp_path / "data", {"train": 8, "valid": 4, "test": 4}, size=96)
    data = prepare_data(root, tmp_path / "work", "original")
    config = TrainConfig(imgsz=64, epochs=2, batch=8)
    seen: list[int] = []
    result = train_detector(data.data_yaml, data.names, config, tmp_path / "runs" / "a",
                            progress=lambda row: seen.append(row["epoch"]))
    assert seen == [1, 2] and result.epochs_run == 2
    assert result.model.card.names == NAMES and result.model.card.parent is None
    assert result.model.card.train["config"]["imgsz"] == 64
    assert (tmp_path / "runs" / "a" / "weights" / "best.pt").is_file()
    metrics = evaluate_detection(result.model, data.data_yaml, "test")
    assert metrics.n_images == 4 and 0.0 <= metrics.map50_95 <= metrics.map50 <= 1.0
    start = save_weld_model(result.model, tmp_path / "start.safetensors")
    tuned = train_detector(data.data_yaml, data.names, TrainConfig(imgsz=64, epochs=1, batch=8,
                                                                   weights=start),
                           tmp_path / "runs" / "b")
    assert tuned.model.card.parent == result.model.version
