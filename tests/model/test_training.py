"""The three training stages on small synthetic tasks (real data: tests/pipelines, slow)."""

from __future__ import annotations

import copy
import sys
import types

import numpy as np
import pytest
import torch

from plantpulse.model import PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.layers.embeddings import HashingTokenizer
from plantpulse.model.moe.training import (
    Batcher,
    StageOptions,
    StageState,
    TaskData,
    TaskSplits,
    run_distill,
    run_finetune,
    run_pretrain,
    seed_everything,
    student_config,
    warm_start_student,
)
from plantpulse.model.moe.training.distributed import data_seed, rank_seed, world
from plantpulse.model.moe.training.pretrain import random_token_masks
from plantpulse.model.moe.training.runtime import clip_and_step

pytestmark = pytest.mark.usefixtures("one_thread")

RUL = TaskSpec(name="rul:pump", kind="rul", rul_cap=100.0)
FAULT = TaskSpec(name="fault:pump", kind="classification", classes=("ok", "worn", "broken"))
ANOMALY = TaskSpec(name="anomaly:pump", kind="anomaly")
WORDS = ("seal leak", "bearing noise", "replaced impeller", "no finding")


def synthetic_splits(task: TaskSpec, n: int, seed: int) -> TaskSplits:
    """Windows whose level encodes the label; 'units' of 10 windows each, split by unit."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(0, 1, n).astype(np.float32)
    sensor = level[:, None, None] + 0.1 * rng.standard_normal((n, 16, 2)).astype(np.float32)
    if task.kind == "rul":
        targets = (level * task.rul_cap).astype(np.float32)
    elif task.kind == "anomaly":
        targets = level < 0.7
    else:
        targets = np.minimum((level * 3).astype(np.int64), 2)
    texts = tuple(WORDS[int(x * 3.99)] for x in level)
    data = TaskData(name=task.name, task=task, groups=np.arange(n) // 10, sensor=sensor,
                    channels=("flow", "pressure"), texts=texts, text_present=rng.random(n) > 0.3,
                    targets=targets)
    units = np.unique(data.groups)
    val_units = units[::4]
    is_val = np.isin(data.groups, val_units)
    return TaskSplits(train=data.subset(~is_val), val=data.subset(is_val))


@pytest.fixture
def setup(seed):
    tasks = [synthetic_splits(t, 120, i) for i, t in enumerate((RUL, FAULT, ANOMALY))]
    cfg = preset("tiny", tasks=(RUL, FAULT, ANOMALY))
    batcher = Batcher(HashingTokenizer(cfg.vocab_size, cfg.max_text_len), cfg.channel_buckets)
    opts = StageOptions(epochs=2, steps_per_epoch=3, batch_size=16, show_progress=False, val_batches=1,
                        seed=seed)
    return PlantPulseModel(cfg), tasks, batcher, opts


def test_splits_share_no_unit(setup):
    _, tasks, _, _ = setup
    for splits in tasks:
        assert not set(splits.train.groups) & set(splits.val.groups)


def test_pretrain_runs_and_reports_each_objective(setup):
    model, tasks, batcher, opts = setup
    paired = tasks[0].train  # sensor + text: masked reconstruction and InfoNCE
    image_only = TaskData(name="images", task=None, groups=np.arange(20),
                          images=np.random.default_rng(0).integers(0, 255, (20, 3, 32, 32), dtype=np.uint8))
    seen = []
    state = run_pretrain(model, [paired, image_only], opts, batcher,
                         on_epoch=lambda s, improved: seen.append(s.epoch))
    assert seen == [1, 2] and state.epoch == 2
    last = state.history[-1]
    assert {"sensor", "text", "infonce", "image"} <= set(last)
    assert all(np.isfinite(v) for v in last.values())


def test_masks_never_hide_padding(setup, batch_factory):
    model, _, _, _ = setup
    batch = batch_factory(model.cfg, b=5)
    masks = random_token_masks(batch, model.cfg, 0.9, torch.Generator().manual_seed(0))
    assert not (masks["text"] & ~batch.text_mask).any()


def test_finetune_with_pcgrad_learns_and_resumes(setup):
    model, tasks, batcher, opts = setup
    opts = opts.model_copy(update={"epochs": 3, "steps_per_epoch": 8, "lr": 3e-3})
    states = []
    state = run_finetune(model, tasks, opts.model_copy(update={"epochs": 1}), batcher,
                         on_epoch=lambda s, imp: states.append(StageState.from_dict(s.to_dict())))
    assert state.epoch == 1 and state.history[0]["pcgrad_conflicts"] >= 0
    resumed = run_finetune(model, tasks, opts, batcher, state=states[-1])
    assert resumed.epoch == 3
    scores = [h["score"] for h in resumed.history]
    assert min(scores[1:]) < scores[0]  # validation loss (relative to epoch 1) went down
    assert float(model.decoder.heads["anomaly:pump"].radius) != 1.0  # radius fitted


def test_finetune_with_uncertainty_weighting_and_without_pcgrad(setup):
    model, tasks, batcher, opts = setup
    opts = opts.model_copy(update={"epochs": 1, "pcgrad": False, "uncertainty_weighting": True,
                                   "steps_per_epoch": 2})
    state = run_finetune(model, tasks, opts, batcher)
    assert np.isfinite(state.history[0]["score"])


def test_distill_student_is_smaller_and_teacher_keeps_training(setup):
    teacher, tasks, batcher, opts = setup
    student = PlantPulseModel(student_config(teacher.cfg))
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    state = run_distill(teacher, student, tasks, opts.model_copy(update={"epochs": 1}), batcher)
    report = state.extra["report"]
    assert report["student_params"] < report["teacher_params"]
    assert student.cfg.n_layers <= teacher.cfg.n_layers and student.cfg.n_experts < teacher.cfg.n_experts
    assert any(not torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert report["student_samples_per_s"] > 0 and "student/rul:pump/rmse" in report


@pytest.mark.parametrize("preset_name", ["tiny", "default"])
def test_the_student_starts_from_its_teacher_group_by_group(preset_name):
    torch.manual_seed(0)
    teacher = PlantPulseModel(preset(preset_name, tasks=(RUL, FAULT)))
    student = PlantPulseModel(student_config(teacher.cfg))
    copied = warm_start_student(teacher, student)
    t, s = teacher.state_dict(), student.state_dict()
    assert copied == len(s)  # every student tensor has a teacher counterpart
    shared = [k for k in s if k in t and t[k].shape == s[k].shape and ".ffn.experts." not in k]
    assert shared and all(torch.equal(s[k], t[k]) for k in shared)
    per_t = teacher.cfg.n_experts // teacher.cfg.n_groups
    per_s = student.cfg.n_experts // student.cfg.n_groups
    for e in range(student.cfg.n_experts):  # expert j of group g <- the teacher's expert j of group g
        source = (e // per_s) * per_t + e % per_s
        assert torch.equal(s[f"blocks.0.ffn.experts.{e}.fc1.weight"], t[f"blocks.0.ffn.experts.{source}.fc1.weight"])
        assert int(student.blocks[0].ffn.router.expert_group[e]) == int(teacher.blocks[0].ffn.router.expert_group[source])
    bias = "blocks.0.ffn.router.lora.B"
    if bias in s and s[bias].shape != t[bias].shape:
        assert torch.equal(s[bias][:, per_s], t[bias][:, per_t])


@pytest.mark.parametrize("preset_name", ["tiny", "default", "large"])
def test_student_config_is_valid_for_every_preset(preset_name):
    teacher = preset(preset_name)
    student = student_config(teacher)
    # half the layers, but a two-layer teacher keeps both (one layer lost ~20 % RMSE on C-MAPSS)
    assert student.n_layers == max(min(2, teacher.n_layers), teacher.n_layers // 2)
    assert student.n_experts < teacher.n_experts
    assert student.top_k < student.experts_per_token_pool or student.experts_per_token_pool == 1  # it routes
    assert student.d_model == teacher.d_model


def test_same_seed_gives_identical_weights(setup, tiny_cfg):
    _, tasks, batcher, opts = setup
    opts = opts.model_copy(update={"epochs": 1, "steps_per_epoch": 2})
    states = []
    for _ in range(2):
        seed_everything(opts.seed)
        model = PlantPulseModel(preset("tiny", tasks=(RUL, FAULT, ANOMALY)))
        run_pretrain(model, [tasks[0].train], opts, batcher)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


@pytest.mark.gpu
def test_finetune_step_under_gpu_autocast(setup):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model, tasks, _, opts = setup
    batcher = Batcher(HashingTokenizer(model.cfg.vocab_size, model.cfg.max_text_len), model.cfg.channel_buckets,
                      "cuda")
    state = run_finetune(model.cuda(), tasks, opts.model_copy(update={"epochs": 1, "device": "cuda"}), batcher)
    assert np.isfinite(state.history[0]["score"])


# ---------------------------------------------------------------------------- data parallel (DDP)
def _halves() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(16, 3, generator=gen)
    return x, x @ torch.tensor([3.0, -2.0, 1.0]) + 4.0


class _TwoHeads(torch.nn.Module):
    """``main`` on every rank, ``extra`` on rank 0's half only, ``unused`` nowhere."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.main, self.extra, self.unused = (torch.nn.Linear(3, 1) for _ in range(3))

    def loss(self, x: torch.Tensor, y: torch.Tensor, with_extra: bool) -> torch.Tensor:
        out = self.main(x) + (self.extra(x) if with_extra else 0.0)
        return torch.nn.functional.mse_loss(out.squeeze(-1), y)


def _one_step(model: _TwoHeads, loss: torch.Tensor) -> float:
    # SGD with weight decay: a parameter given a zero gradient would move, one left at None not
    opt = torch.optim.SGD(model.parameters(), lr=0.05, weight_decay=0.1)
    loss.backward()
    return clip_and_step(opt, list(model.parameters()), max_norm=1.0)


def _ddp_worker(rank: int, world_size: int, init_file: str, out: str) -> None:
    """One rank of the 2-process gloo group (module level: spawned processes import it)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        assert world() == (rank, world_size)
        x, y = _halves()
        mine = slice(8 * rank, 8 * rank + 8)
        model = _TwoHeads()
        _one_step(model, model.loss(x[mine], y[mine], with_extra=rank == 0))
        torch.save(model.state_dict(), f"{out}/step-{rank}.pt")

        # a whole stage: every rank must end with the same weights (biases balanced on all loads)
        tasks = [synthetic_splits(t, 120, i) for i, t in enumerate((RUL, FAULT))]
        cfg = preset("tiny", tasks=(RUL, FAULT), balance="bias", top_k=1)
        batcher = Batcher(HashingTokenizer(cfg.vocab_size, cfg.max_text_len), cfg.channel_buckets)
        opts = StageOptions(epochs=2, steps_per_epoch=2, batch_size=16, show_progress=False, val_batches=1)
        seed_everything(rank)  # different initial weights: the stage must start from rank 0's
        network = PlantPulseModel(cfg)
        state = run_finetune(network, tasks, opts, batcher)
        torch.save({"model": network.state_dict(), "scores": [h["score"] for h in state.history],
                    "seeds": (rank_seed(0), data_seed(0, 1))}, f"{out}/finetune-{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory) -> dict[str, list]:
    """Runs :func:`_ddp_worker` on 2 CPU processes once for the tests below."""
    import torch.multiprocessing as mp

    folder = tmp_path_factory.mktemp("ddp")
    # Spawned children re-import the parent's __main__; in a full run that can be a temporary
    # script another test left there (Streamlit's AppTest), so give them an empty one.
    with pytest.MonkeyPatch.context() as mpatch:
        mpatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
        mp.spawn(_ddp_worker, args=(2, str(folder / "init"), str(folder)), nprocs=2, join=True)
    return {kind: [torch.load(folder / f"{kind}-{r}.pt", weights_only=True) for r in range(2)]
            for kind in ("step", "finetune")}


def test_one_ddp_step_equals_one_step_on_the_concatenated_batch(ddp_results):
    x, y = _halves()
    model = _TwoHeads()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    # the mean of the two halves' losses = the loss of the concatenated batch (equal halves)
    loss = 0.5 * (model.loss(x[:8], y[:8], with_extra=True) + model.loss(x[8:], y[8:], with_extra=False))
    norm = _one_step(model, loss)
    assert norm > 1.0, "the averaged gradient must be clipped for this check to cover clipping"
    expected = model.state_dict()
    for rank, got in enumerate(ddp_results["step"]):
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6, msg=f"rank {rank} {key}")
    assert torch.equal(expected["unused.weight"], before["unused.weight"])


def test_ddp_stage_keeps_every_rank_identical(ddp_results):
    first, second = ddp_results["finetune"]
    for key, value in first["model"].items():
        assert torch.equal(value, second["model"][key]), key
    assert first["scores"] == second["scores"]
    biases = [v for k, v in first["model"].items() if k.endswith("expert_bias")]
    assert biases and any(bool(b.abs().sum() > 0) for b in biases), "bias balancing ran"
    assert first["seeds"] != second["seeds"], "ranks draw different batches"


def test_single_process_seeds_are_unchanged():
    assert world() == (0, 1)
    assert rank_seed(7) == 7 and data_seed(7, 2) == [7, 2]


def test_weight_average_follows_the_steps_and_swaps_in_only_inside_its_block():
    from plantpulse.model.moe.training.runtime import WeightAverage

    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.fill_(0.0)
    average = WeightAverage(net, horizon_steps=4)  # d = 0.75 once past the early ramp
    expected = torch.zeros_like(net.weight)
    for step in range(1, 31):
        with torch.no_grad():
            net.weight.fill_(float(step))
        average.update(net)
        d = min(0.75, (1 + step) / (10 + step))
        expected = d * expected + (1 - d) * step
    assert torch.allclose(average.shadow["weight"], expected)
    assert 26 < float(expected[0, 0]) < 30  # lags the last weight (30) by about the horizon
    with average.applied(net):
        assert torch.equal(net.weight, average.shadow["weight"])
    assert float(net.weight.detach()[0, 0]) == 30.0
    restored = WeightAverage(net, horizon_steps=4)
    restored.load_state_dict(average.state_dict())
    assert restored.updates == 30 and torch.equal(restored.shadow["weight"], average.shadow["weight"])
    with pytest.raises(ValueError, match="horizon"):
        WeightAverage(net, horizon_steps=0.5)


def test_finetune_with_a_weight_average_keeps_the_averaged_weights_and_resumes(setup):
    model, tasks, batcher, opts = setup
    opts = opts.model_copy(update={"epochs": 2, "steps_per_epoch": 6, "lr": 3e-3, "average_epochs": 1.0,
                                   "patience": 5})
    raw = copy.deepcopy(model)
    states = []
    run_finetune(raw, tasks, opts.model_copy(update={"average_epochs": 0.0}), batcher)
    run_finetune(model, tasks, opts.model_copy(update={"epochs": 1}), batcher,
                 on_epoch=lambda s, imp: states.append(StageState.from_dict(s.to_dict())))
    assert states[-1].extra["average"]["updates"] == 6
    state = run_finetune(model, tasks, opts, batcher, state=states[-1])
    assert state.epoch == 2 and state.extra["average"]["updates"] == 12
    # same seed, same batches: the kept weights are the average, not the raw trained weights
    kept = dict(model.named_parameters())
    trained = dict(raw.named_parameters())
    assert any(not torch.allclose(kept[n], trained[n]) for n in state.extra["average"]["shadow"])


def test_random_crops_keep_the_shape_cut_a_window_and_are_seeded():
    from plantpulse.model.moe.training.finetune import random_crops

    ramp = torch.arange(16.0).repeat(16, 1)  # columns 0..15 left to right
    images = ramp.expand(4, 3, 16, 16).clone()
    cropped = random_crops(images, 0.5, np.random.default_rng(0))
    assert cropped.shape == images.shape
    assert not torch.equal(cropped, images)
    # a crop of a left-to-right ramp is still a ramp, inside the original range and narrower or equal
    assert float(cropped.min()) >= 0.0 and float(cropped.max()) <= 15.0
    assert (cropped[:, :, :, 1:] >= cropped[:, :, :, :-1] - 1e-5).all()
    assert torch.equal(cropped, random_crops(images, 0.5, np.random.default_rng(0)))
    assert torch.equal(random_crops(images, 1.0, np.random.default_rng(0)), images)  # a full window is the image


def test_finetune_with_random_crops_runs_on_images():
    from plantpulse.model.moe.training import StageOptions as Options

    task = TaskSpec(name="defect:plate", kind="classification", classes=("ok", "bad"))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (40, 3, 32, 32), dtype=np.uint8)
    data = TaskData(name=task.name, task=task, groups=np.arange(40), images=images,
                    targets=(images.mean((1, 2, 3)) > 127).astype(np.int64))
    splits = TaskSplits(train=data.subset(np.arange(30)), val=data.subset(np.arange(30, 40)))
    cfg = preset("tiny", tasks=(task,), image_size=32)
    model = PlantPulseModel(cfg)
    batcher = Batcher(HashingTokenizer(cfg.vocab_size, cfg.max_text_len), cfg.channel_buckets)
    opts = Options(epochs=1, steps_per_epoch=2, batch_size=8, show_progress=False, val_batches=1,
                   image_crop_min=0.7)
    state = run_finetune(model, [splits], opts, batcher)
    assert state.epoch == 1 and np.isfinite(state.history[0]["score"])


def test_select_by_balanced_nll_scores_classification_by_it_and_other_tasks_by_their_headline(setup):
    from plantpulse.model.moe.training.finetune import validate
    model, tasks, batcher, opts = setup
    headline, metrics, scores = validate(model, tasks, batcher, opts)
    smooth, metrics_nll, scores_nll = validate(model, tasks, batcher, opts.model_copy(update={"select_by": "balanced-nll"}))
    assert scores_nll[FAULT.name] == pytest.approx(metrics_nll[f"{FAULT.name}/balanced_nll"])
    assert scores_nll[FAULT.name] > 0 and smooth != headline
    assert scores[FAULT.name] == pytest.approx(1 - metrics[f"{FAULT.name}/macro_f1"])
    for other in (RUL.name, ANOMALY.name):  # not classification: unchanged
        assert scores_nll[other] == pytest.approx(scores[other])
    assert f"{FAULT.name}/balanced_nll" not in metrics
    state = run_finetune(model, tasks, opts.model_copy(update={"select_by": "balanced-nll", "epochs": 1}), batcher)
    assert f"{FAULT.name}/balanced_nll" in state.history[-1]
