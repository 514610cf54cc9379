"""The MoE experiments every protocol shares, by name, each trained at most once per run.

- ``main-s<seed>``: the multi-task, multimodal model on all six datasets (all tasks, CWRU
  same-load split), three stages; the reported teacher and student.
- ablations of the main model on seed 0, one change each: ``abl-dense`` (dense FFN of the same
  active width instead of MoE), ``abl-nopretrain`` (no stage 1), ``abl-nopcgrad`` (summed task
  gradients); teacher only (no distillation).
- ``cwru-load<k>`` / ``cwru-size<s>``: CWRU-only models for the cross-load and unseen-size
  protocols (the split depends on the held-out load or size).
- ``azure-<modalities>``: Azure-only models for the single- vs multi-modality comparison
  (teacher only).

Under a ``per_task`` budget there is no multi-task model: every protocol's MoE is trained on its one
task (:func:`task_spec`: ``cmapss-FD00x-s<seed>``, ``cwru-s<seed>``, ``ai4i2020-s<seed>``, ...) with
the budget's recipe for that dataset (epochs, task-builder options), teacher only, and scored on
the bundle it was trained on; the ablations of the joint model are not run. A recipe case with
``members: n`` (> 1) adds ``n - 1`` teachers of the same recipe on the same split
(:func:`member_specs`: ``cmapss-FD001-s0-m1``, ...), and the protocol scores their mean.
"""

from __future__ import annotations

from dataclasses import replace

from plantpulse.pipelines.evaluate.moe import TRAINING_KEYS, MoeModels, MoeSpec, obtain
from plantpulse.pipelines.evaluate.records import EvalContext

ALL_DATASETS: tuple[str, ...] = ("cmapss", "cwru", "azure_pdm", "maintnet", "ai4i2020", "weld_surface_yolo")
ABLATIONS: dict[str, dict[str, object]] = {
    "abl-dense": {"overrides": {"ffn": "dense"}},
    "abl-nopretrain": {"pretrain": False},
    "abl-nopcgrad": {"pcgrad": False},
}
ABLATION_LABELS: dict[str, str] = {
    "abl-dense": "ablation: dense FFN instead of MoE",
    "abl-nopretrain": "ablation: no pre-training",
    "abl-nopcgrad": "ablation: no PCGrad",
}
MEMBER_SEED_STEP = 100  # member m of seed s trains with seed s + 100·m on seed s's split
ENSEMBLE_DATASETS: tuple[str, ...] = ("cmapss",)  # whose protocol scores a case's members as one model
CWRU_LOADS: tuple[int, ...] = (0, 1, 2, 3)
CWRU_SIZES: tuple[float, ...] = (0.007, 0.014, 0.021)
AZURE_MODALITIES: dict[str, tuple[str, ...]] = {
    "sensor+text": ("sensor", "text"), "sensor": ("sensor",), "text": ("text",),
}


# the task every single-task MoE is trained for, per dataset
TASK_OF: dict[str, str] = {"cmapss": "rul:turbofan", "cwru": "fault:bearing", "azure_pdm": "failure24h:machine",
                           "maintnet": "system:aircraft", "ai4i2020": "fault:milling",
                           "weld_surface_yolo": "defect:weld"}


def per_task(ctx: EvalContext) -> bool:
    return ctx.budget.scope == "per_task"


def main_spec(seed: int) -> MoeSpec:
    return MoeSpec(name=f"main-s{seed}", datasets=ALL_DATASETS, seed=seed)


def task_spec(ctx: EvalContext, dataset: str, seed: int, name: str | None = None, **options: object) -> MoeSpec:
    """The MoE a protocol reports for ``dataset``: the multi-task ``main-s<seed>`` under a joint
    budget; under a per-task budget, a model of that task alone, trained with the budget's recipe for
    the dataset and the task-builder ``options`` of the case (e.g. one C-MAPSS subset)."""
    if not per_task(ctx):
        return main_spec(seed)
    if dataset == "azure_pdm" and not options:  # the Azure-only model on telemetry + logs
        return azure_spec(ctx, "sensor+text", seed)
    return _single(ctx, name or dataset, dataset, seed, options, distill=False)


def _single(ctx: EvalContext, name: str, dataset: str, seed: int, options: dict[str, object],
            distill: bool, tasks: tuple[str, ...] | None = None) -> MoeSpec:
    recipe = ctx.budget.recipes.get(dataset, {}) if per_task(ctx) else {}
    epochs = {stage: int(recipe[f"{stage}_epochs"]) for stage in ("pretrain", "finetune")
              if f"{stage}_epochs" in recipe}
    # one case (e.g. one C-MAPSS subset) may set its own training, task-builder and model options
    case = recipe.get("cases", {}).get(name, {})
    merged = {**recipe.get("options", {}), **options, **case.get("options", {})}
    pretrain = epochs.get("pretrain", ctx.budget.pretrain_epochs) > 0 if per_task(ctx) else True
    training = {key: value for key, value in {**recipe, **case}.items() if key in TRAINING_KEYS}
    if int(case.get("members", 1)) > 1 and dataset not in ENSEMBLE_DATASETS:
        raise ValueError(f"recipe case {name!r}: 'members' (teachers averaged on one split) is scored only by "
                         f"the protocols of {', '.join(ENSEMBLE_DATASETS)}; remove it from the {dataset} recipe")
    return MoeSpec(name=f"{name}-s{seed}", datasets=(dataset,), seed=seed,
                   tasks=(TASK_OF[dataset],) if tasks is None else tasks, pretrain=pretrain,
                   distill=distill and not per_task(ctx), bundle_options={dataset: merged} if merged else {},
                   epochs=epochs, training=training,
                   overrides={**recipe.get("overrides", {}), **case.get("overrides", {})},
                   members=int(case.get("members", 1)))


def member_specs(spec: MoeSpec) -> list[MoeSpec]:
    """The other teachers of ``spec``'s ensemble (none when ``spec.members`` is 1): member ``m`` is
    ``<name>-m<m>``, the same recipe trained with seed ``seed + 100·m`` (another initialisation and
    batch order) on the same split: ``seed`` is passed as the task builder's own option, which
    the training job lets win over its seed."""
    return [replace(spec, name=f"{spec.name}-m{m}", seed=spec.seed + MEMBER_SEED_STEP * m, members=1,
                    bundle_options={name: {**spec.bundle_options.get(name, {}), "seed": spec.seed}
                                    for name in spec.datasets})
            for m in range(1, spec.members)]


def own_splits(ctx: EvalContext, spec: MoeSpec, dataset: str, seed: int, task: str):
    """The train/val/test splits of ``task`` from the bundle ``spec`` was trained on (its options
    and image size)."""
    return bundle(ctx, dataset, seed, image_size=image_size(ctx, spec),
                  **spec.bundle_options.get(dataset, {})).splits[task]


def image_size(ctx: EvalContext, spec: MoeSpec) -> int:
    """The image size ``spec``'s model is configured with (the budget's preset and overrides,
    then the experiment's): the size its training job loads images at."""
    from plantpulse.model.moe.config import preset

    return preset(ctx.budget.preset, **{**ctx.budget.moe_overrides, **spec.overrides}).image_size


def trained_on(ctx: EvalContext, spec: MoeSpec) -> str:
    """The data fingerprint a training run of ``spec`` stores in its checkpoints, computed from
    the bundles this run builds (cached, so scoring reuses them)."""
    from plantpulse.pipelines.train.job import training_fingerprint

    size = image_size(ctx, spec)
    bundles = [bundle(ctx, name, spec.seed, image_size=size, **spec.bundle_options.get(name, {}))
               for name in spec.datasets]
    return training_fingerprint(bundles, spec.tasks)


def ablation_spec(name: str, seed: int = 0) -> MoeSpec:  # joint budgets only
    return MoeSpec(name=f"{name}-s{seed}", datasets=ALL_DATASETS, seed=seed, distill=False,
                   **ABLATIONS[name])


def cwru_load_spec(ctx: EvalContext, train_load: int, seed: int = 0) -> MoeSpec:
    test = [k for k in CWRU_LOADS if k != train_load]
    return _single(ctx, f"cwru-load{train_load}", "cwru", seed, {"protocol": "load", "test_loads": test},
                   distill=True)


def cwru_size_spec(ctx: EvalContext, test_size: float, seed: int = 0) -> MoeSpec:
    tag = f"{test_size:.3f}".replace("0.", "")
    return _single(ctx, f"cwru-size{tag}", "cwru", seed, {"protocol": "fault_size", "test_size": test_size},
                   distill=True)


def azure_spec(ctx: EvalContext, modalities: str, seed: int = 0) -> MoeSpec:
    return _single(ctx, f"azure-{modalities.replace('+', '-')}", "azure_pdm", seed,
                   {"modalities": list(AZURE_MODALITIES[modalities])}, distill=False,
                   tasks=None if per_task(ctx) else ())


def get(ctx: EvalContext, spec: MoeSpec) -> MoeModels:
    """Train or load ``spec`` once per run (later protocols reuse the same models)."""
    key = f"moe:{spec.name}"
    if key not in ctx.cache:
        ctx.echo(f"MoE experiment {spec.name}: {'loading checkpoints' if ctx.from_checkpoint else 'training'}")
        ctx.cache[key] = obtain(ctx, spec, lambda: trained_on(ctx, spec))
    return ctx.cache[key]


def ablation_names(ctx: EvalContext) -> tuple[str, ...]:
    return tuple(ABLATIONS) if ctx.ablations and not per_task(ctx) else ()


def bundle(ctx: EvalContext, name: str, seed: int, /, image_size: int | None = None, **options: object):
    """The task bundle the MoE of ``seed`` was trained on (same builder, seed and options; images
    at ``image_size``, by default the budget's), cached. A ``seed`` among ``options`` (a member of
    an ensemble, :func:`member_specs`) is the split's and wins."""
    from plantpulse.model.moe.config import preset
    from plantpulse.pipelines.train.tasks import build_bundle

    split = options.pop("seed", seed)  # a member of an ensemble: its split's seed (member_specs)
    seed = split if isinstance(split, int) else seed
    if name == "cmapss" and legacy_checkpoints(ctx):
        options = {**options, "legacy_layout": True}
    size = image_size or preset(ctx.budget.preset, **ctx.budget.moe_overrides).image_size
    key = f"bundle:{name}:{seed}:{size}:{sorted(options.items())}"
    if key not in ctx.cache:
        ctx.cache[key] = build_bundle(name, ctx.datasets_dir, seed=seed, image_size=size, **options)
    return ctx.cache[key]


def legacy_checkpoints(ctx: EvalContext) -> bool:
    """True when scoring committed checkpoints made before channel vocabularies (and with them
    data-driven regimes and constant channels dropped): their C-MAPSS data keep the old layout."""
    from plantpulse.model.moe.checkpoint import read_metadata

    key = "legacy-checkpoints"
    if key not in ctx.cache:
        path = ctx.checkpoint_dir / f"{main_spec(ctx.seeds[0]).name}-teacher.safetensors"
        ctx.cache[key] = bool(ctx.from_checkpoint and not per_task(ctx) and path.is_file()
                              and not read_metadata(path).config.channel_vocab)
    return bool(ctx.cache[key])
