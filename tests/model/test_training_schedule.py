"""Training that converges: warm-up + cosine, decay groups, epoch budgets, task balance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from plantpulse.model import PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.training.balance import (
    LossNormalizer,
    class_weights,
    draw_slots,
    task_probabilities,
)
from plantpulse.model.moe.training.finetune import balanced_nll, selection_score
from plantpulse.model.moe.training.runtime import (
    StageOptions,
    decay_groups,
    epoch_steps,
    lr_factor,
    make_optimizer,
)

OPTS = StageOptions(lr=1e-3, warmup_fraction=0.1, min_lr_ratio=0.0, show_progress=False)


def test_warmup_rises_linearly_then_cosine_decays():
    total = 100
    factors = [lr_factor(s, total, OPTS) for s in range(total)]
    assert factors[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert factors[10] == pytest.approx(1.0)
    assert factors[55] == pytest.approx(0.5 * (1 + math.cos(math.pi * 45 / 89)))
    assert factors[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))


def test_cosine_floor_and_constant_schedule():
    floor = OPTS.model_copy(update={"min_lr_ratio": 0.05})
    assert lr_factor(99, 100, floor) == pytest.approx(0.05)
    flat = OPTS.model_copy(update={"schedule": "constant"})
    assert lr_factor(50, 100, flat) == 1.0


def test_no_weight_decay_on_norms_embeddings_biases_and_tokens():
    model = PlantPulseModel(preset("tiny", tasks=(TaskSpec(name="rul:x", kind="rul"),)))
    decay, keep = decay_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    kept = {names[id(p)] for p in keep["params"]}
    decayed = {names[id(p)] for p in decay["params"]}
    assert decay["weight_decay"] == 0.01 and keep["weight_decay"] == 0.0
    assert len(kept) + len(decayed) == len(names)
    for name in ("embedding.paths.sensor.channel.weight", "embedding.paths.text.embed.weight",
                 "embedding.summary", "embedding.mask_token", "embedding.tag.weight", "embedding.norm.weight",
                 "embedding.paths.waveform.kind.weight", "blocks.0.norm_attn.weight", "blocks.0.ffn.experts.0.fc1.bias"):
        assert name in kept, name
    for name in ("blocks.0.ffn.experts.0.fc1.weight", "embedding.paths.sensor.proj.weight",
                 "embedding.paths.image.stem.0.weight", "blocks.0.ffn.router.lora.A"):
        assert name in decayed, name
    optimizer = make_optimizer(model, OPTS)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [OPTS.weight_decay, 0.0]


def test_an_epoch_is_one_pass_over_the_training_data():
    assert epoch_steps(OPTS, [1000, 300], 64) == math.ceil(1300 / 64)
    assert epoch_steps(OPTS.model_copy(update={"steps_per_epoch": 7}), [1000], 64) == 7


def test_temperature_sampling_flattens_task_sizes():
    sizes = [10_000, 100]
    assert task_probabilities(sizes, 1.0) == pytest.approx([10_000 / 10_100, 100 / 10_100])
    assert task_probabilities(sizes, 2.0) == pytest.approx([100 / 110, 10 / 110])
    rng = np.random.default_rng(0)
    counts = sum(draw_slots(task_probabilities(sizes, 2.0), 2, rng) for _ in range(2000))
    assert counts.sum() == 4000 and 0.05 < counts[1] / 4000 < 0.13


def test_class_weights_favour_rare_classes_and_skip_absent_ones():
    spec = TaskSpec(name="fault:x", kind="classification", classes=("ok", "a", "b"))
    w = class_weights(spec, np.array([0] * 90 + [1] * 10), power=1.0)
    assert w[2] == 0 and w[1] / w[0] == pytest.approx(9.0)
    half = class_weights(spec, np.array([0] * 90 + [1] * 10), power=0.5)
    assert half[1] / half[0] == pytest.approx(3.0)
    assert class_weights(spec, np.array([0, 1]), power=0.0) is None
    multi = TaskSpec(name="f24:x", kind="multilabel", classes=("c1", "c2"))
    pos = class_weights(multi, np.array([[1, 0], [0, 0], [0, 0], [0, 1]] * 4), power=1.0)
    assert pos.tolist() == pytest.approx([3.0, 3.0])


def test_loss_normaliser_brings_each_task_to_its_own_scale():
    norm = LossNormalizer(momentum=0.5)
    big, small = torch.tensor(20.0, requires_grad=True), torch.tensor(0.02, requires_grad=True)
    assert float(norm("a", big).detach()) == pytest.approx(1.0)
    assert float(norm("b", small).detach()) == pytest.approx(1.0)
    norm("a", torch.tensor(10.0))
    assert norm.state_dict()["a"] == pytest.approx(15.0)
    restored = LossNormalizer()
    restored.load_state_dict(norm.state_dict())
    assert restored.mean == norm.mean


def test_selection_scores_follow_the_headline_metrics():
    assert selection_score("rul", {"rmse": 25.0}, 125.0) == pytest.approx(0.2)
    assert selection_score("classification", {"macro_f1": 0.9}, 125.0) == pytest.approx(0.1)
    assert selection_score("anomaly", {"auroc": float("nan")}, 125.0) == 0.5


def test_balanced_nll_weighs_every_class_alike():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.5, 0.5]])
    target = np.array([0, 0, 0, 1])
    # class 0: -log 0.9 on three rows; class 1: -log 0.5 on its one row; the two means averaged
    assert balanced_nll(probs, target) == pytest.approx((-np.log(0.9) - np.log(0.5)) / 2)
    # a class absent from the rows does not count; a zero probability stays finite
    assert np.isfinite(balanced_nll(np.array([[1.0, 0.0]]), np.array([1])))
