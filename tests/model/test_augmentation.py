"""Training-time augmentation in ``TaskStreams.inputs``: random mirroring of images
(``--image-flips``) and random word dropout in texts (``--word-dropout``)."""

from __future__ import annotations

import numpy as np
import torch

from plantpulse.model import TaskSpec
from plantpulse.model.moe.channels import ChannelIndex
from plantpulse.model.moe.layers.embeddings import HashingTokenizer
from plantpulse.model.moe.training.data import Batcher, TaskData, TaskSplits
from plantpulse.model.moe.training.finetune import TaskStreams
from plantpulse.model.moe.training.runtime import StageOptions

TASK = TaskSpec(name="defect:weld", kind="classification", classes=("good", "bad"))


def _splits(n: int = 64) -> TaskSplits:
    images = np.random.default_rng(0).integers(0, 255, (n, 3, 8, 8), dtype=np.uint8)
    data = TaskData(name="weld", task=TASK, groups=np.arange(n), targets=np.arange(n) % 2, images=images)
    return TaskSplits(data, data, data)


def _batches(flips: bool, epoch: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    splits = _splits()
    streams = TaskStreams([splits], StageOptions(batch_size=64, image_flips=flips), epoch, 2)
    batcher = Batcher(HashingTokenizer(64, 8), ChannelIndex((), 8))
    rows = np.arange(64)
    return batcher.inputs(splits.train, rows).image, streams.inputs(batcher, splits.train, rows).image


def test_each_image_is_itself_or_a_mirror_of_itself_and_both_mirrors_occur() -> None:
    plain, seen = _batches(True)
    kinds = []
    for a, b in zip(plain, seen, strict=True):
        options = {"same": a, "lr": a.flip(-1), "ud": a.flip(-2), "both": a.flip(-1).flip(-2)}
        kinds.append(next(k for k, v in options.items() if torch.equal(v, b)))
    assert set(kinds) == {"same", "lr", "ud", "both"}  # 64 images, each pair of coins fair
    assert 8 <= kinds.count("same") <= 28


def test_off_by_default_and_reproducible_per_epoch() -> None:
    plain, seen = _batches(False)
    assert torch.equal(plain, seen)
    assert torch.equal(_batches(True)[1], _batches(True)[1])
    assert not torch.equal(_batches(True, epoch=0)[1], _batches(True, epoch=1)[1])


TEXT_TASK = TaskSpec(name="system:aircraft", kind="classification", classes=("engine", "other"))


def test_word_dropout_hides_words_like_padding_and_keeps_one_per_text() -> None:
    texts = ("rough running engine cyl 3 low compression",) * 200 + ("leak",) * 56
    data = TaskData(name="log", task=TEXT_TASK, groups=np.arange(256), targets=np.arange(256) % 2, texts=texts)
    splits = TaskSplits(data, data, data)
    batcher = Batcher(HashingTokenizer(64, 8), ChannelIndex((), 8))
    rows = np.arange(256)
    plain = batcher.inputs(data, rows)
    streams = TaskStreams([splits], StageOptions(batch_size=256, word_dropout=0.5), 0, 2)
    seen = streams.inputs(batcher, data, rows)
    assert torch.equal(seen.text_ids, plain.text_ids)  # ids untouched: a hidden word is masked out
    assert not (seen.text_mask & ~plain.text_mask).any()  # padding stays padding
    assert bool(seen.text_mask.any(1).all())  # every text keeps a word (one-word texts keep theirs)
    share = float(seen.text_mask[:200].sum() / plain.text_mask[:200].sum())
    assert 0.4 < share < 0.6
    off = TaskStreams([splits], StageOptions(batch_size=256), 0, 2).inputs(batcher, data, rows)
    assert torch.equal(off.text_mask, plain.text_mask)
