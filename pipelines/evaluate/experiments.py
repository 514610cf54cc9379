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
"""

from __future__ import annotations

from plantpulse.pipelines.evaluate.moe import MoeModels, MoeSpec, obtain
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
CWRU_LOADS: tuple[int, ...] = (0, 1, 2, 3)
CWRU_SIZES: tuple[float, ...] = (0.007, 0.014, 0.021)
AZURE_MODALITIES: dict[str, tuple[str, ...]] = {
    "sensor+text": ("sensor", "text"), "sensor": ("sensor",), "text": ("text",),
}


def main_spec(seed: int) -> MoeSpec:
    return MoeSpec(name=f"main-s{seed}", datasets=ALL_DATASETS, seed=seed)


def ablation_spec(name: str, seed: int = 0) -> MoeSpec:
    return MoeSpec(name=f"{name}-s{seed}", datasets=ALL_DATASETS, seed=seed, distill=False,
                   **ABLATIONS[name])


def cwru_load_spec(train_load: int, seed: int = 0) -> MoeSpec:
    test = [k for k in CWRU_LOADS if k != train_load]
    return MoeSpec(name=f"cwru-load{train_load}-s{seed}", datasets=("cwru",), tasks=("fault:bearing",),
                   seed=seed, bundle_options={"cwru": {"protocol": "load", "test_loads": test}})


def cwru_size_spec(test_size: float, seed: int = 0) -> MoeSpec:
    tag = f"{test_size:.3f}".replace("0.", "")
    return MoeSpec(name=f"cwru-size{tag}-s{seed}", datasets=("cwru",), tasks=("fault:bearing",), seed=seed,
                   bundle_options={"cwru": {"protocol": "fault_size", "test_size": test_size}})


def azure_spec(modalities: str, seed: int = 0) -> MoeSpec:
    return MoeSpec(name=f"azure-{modalities.replace('+', '-')}-s{seed}", datasets=("azure_pdm",), seed=seed,
                   distill=False, bundle_options={"azure_pdm": {"modalities": list(AZURE_MODALITIES[modalities])}})


def get(ctx: EvalContext, spec: MoeSpec) -> MoeModels:
    """Train or load ``spec`` once per run (later protocols reuse the same models)."""
    key = f"moe:{spec.name}"
    if key not in ctx.cache:
        ctx.echo(f"MoE experiment {spec.name}: {'loading checkpoints' if ctx.from_checkpoint else 'training'}")
        ctx.cache[key] = obtain(ctx, spec)
    return ctx.cache[key]


def ablation_names(ctx: EvalContext) -> tuple[str, ...]:
    return tuple(ABLATIONS) if ctx.ablations else ()


def bundle(ctx: EvalContext, name: str, seed: int, **options: object):
    """The task bundle the MoE of ``seed`` was trained on (same builder, seed and options), cached."""
    from plantpulse.model.moe.config import preset
    from plantpulse.pipelines.train.tasks import build_bundle

    if name == "cmapss" and legacy_checkpoints(ctx):
        options = {**options, "legacy_layout": True}
    key = f"bundle:{name}:{seed}:{sorted(options.items())}"
    if key not in ctx.cache:
        size = preset(ctx.budget.preset, **ctx.budget.moe_overrides).image_size
        ctx.cache[key] = build_bundle(name, ctx.datasets_dir, seed=seed, image_size=size, **options)
    return ctx.cache[key]


def legacy_checkpoints(ctx: EvalContext) -> bool:
    """True when scoring committed checkpoints made before channel vocabularies (and with them
    data-driven regimes and constant channels dropped): their C-MAPSS data keep the old layout."""
    from plantpulse.model.moe.checkpoint import read_metadata

    key = "legacy-checkpoints"
    if key not in ctx.cache:
        path = ctx.checkpoint_dir / f"{main_spec(ctx.seeds[0]).name}-teacher.safetensors"
        ctx.cache[key] = bool(ctx.from_checkpoint and path.is_file()
                              and not read_metadata(path).config.channel_vocab)
    return bool(ctx.cache[key])
