"""``plantpulse evaluate``: the leakage-free evaluation on the public datasets -> docs/RESULTS.md."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.resources import checkpoints_dir, docs_dir
from plantpulse.pipelines.evaluate.protocols import PROTOCOLS
from plantpulse.pipelines.evaluate.records import BUDGETS, EvalContext


def _listing() -> str:
    lines = ["\b", "Protocols (task: what is measured):"]
    for name in PROTOCOLS:
        p = PROTOCOLS.get(name)
        lines.append(f"  {name:<10} [{', '.join(p.tasks)}] {p.summary}")
    return "\n".join(lines)


def _names(value: str) -> list[str]:
    names = list(PROTOCOLS) if value == "all" else [v.strip() for v in value.split(",") if v.strip()]
    for name in names:
        PROTOCOLS.get(name)  # unknown names list the known ones
    return names


def _seeds(value: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as err:
        raise click.BadParameter(f"seeds must be comma-separated integers, got {value!r}.") from err
    if not seeds:
        raise click.BadParameter("give at least one seed.")
    return seeds


def checkpoint_budget(checkpoint_dir: Path) -> str:
    """The budget the checkpoints in ``checkpoint_dir`` were trained with (from their records)."""
    import json

    found = set()
    for record in sorted(checkpoint_dir.glob("*.json")):
        try:
            found.add(json.loads(record.read_text(encoding="utf-8"))["budget"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"Checkpoint record {record} is unreadable ({err}); restore it from the "
                              "repository or retrain with `plantpulse evaluate`.") from err
    if len(found) != 1:
        raise ConfigError(f"Checkpoint records in {checkpoint_dir} name budgets {sorted(found) or 'none'}; "
                          "expected exactly one. Train them with `plantpulse evaluate --budget NAME`.")
    return found.pop()


def resolve_budget(budget: str | None, from_checkpoint: bool, checkpoint_dir: Path) -> str:
    """``--budget`` as given, else 'full', else (with --from-checkpoint) the checkpoints' own budget;
    a different budget than the checkpoints' is refused, since their metrics would not be reproduced."""
    if not from_checkpoint:
        return budget or "full"
    recorded = checkpoint_budget(checkpoint_dir)
    if budget is not None and budget != recorded:
        raise click.BadParameter(f"the checkpoints in {checkpoint_dir} were trained with budget {recorded!r}, "
                                 f"not {budget!r}; leave --budget out or pass --budget {recorded}.",
                                 param_hint="--budget")
    return recorded


def check_datasets(root: Path, names: list[str]) -> None:
    """Verify size and sha256 of every file the chosen protocols read, before any training."""
    from plantpulse.data.datasets import manifest, verify_files

    needed = {"all": ["cmapss", "cwru", "azure_pdm", "maintnet", "ai4i2020", "weld_surface_yolo"]}
    for name in names:
        dataset = PROTOCOLS.get(name).dataset
        for d in needed.get(dataset, [dataset]):
            verify_files(root, manifest(d), "full")


@click.command(epilog=_listing())
@click.option("--protocols", "protocol_names", default="all", show_default=True,
              help="Comma-separated protocols (see below) or 'all'.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Seeds of the main model and baselines.")
@click.option("--budget", type=click.Choice(sorted(BUDGETS)), default=None,
              help="Training budget: 'full' the designed multi-task run, 'reduced' what of it fitted 2 CPU cores, "
                   "'per-task' one MoE per task trained on it alone (the published run), 'quick' a "
                   "minutes-long smoke run, 'gpu' the default preset on a CUDA device. Default: 'full', or with --from-checkpoint the budget the "
                   "checkpoints were trained with.")
@click.option("--from-checkpoint", is_flag=True,
              help="Load the MoE and plain-network checkpoints instead of training them.")
@click.option("--no-ablations", is_flag=True, help="Skip the MoE ablation models.")
@click.option("--checkpoint-dir", type=click.Path(file_okay=False, path_type=Path),
              default=checkpoints_dir(), show_default=True)
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Training run folders; an interrupted run resumes there (default: <home>/evaluate/<budget>).")
@click.option("--out", "md_path", type=click.Path(dir_okay=False, path_type=Path),
              default=docs_dir() / "RESULTS.md", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=docs_dir() / "results.json", show_default=True)
@click.option("--image-dir", type=click.Path(file_okay=False, path_type=Path),
              default=docs_dir() / "img" / "results", show_default=True)
@click.option("--notes", "notes_path", type=click.Path(dir_okay=False, path_type=Path),
              default=docs_dir() / "results-notes.md", show_default=True,
              help="Hand-written notes on the targets, included in the report when the file exists.")
@click.option("--threads", type=int, default=None, help="Torch CPU threads.")
@click.pass_obj
def evaluate(settings: Settings, protocol_names: str, seeds: str, budget: str | None, from_checkpoint: bool,
             no_ablations: bool, checkpoint_dir: Path, work_dir: Path | None, md_path: Path,
             json_path: Path, image_dir: Path, notes_path: Path, threads: int | None) -> None:
    """Evaluate the MoE teacher and student against baselines on leakage-free protocols.

    Reads the public datasets from PLANTPULSE_DATASETS (files verified first), trains or loads
    every model, writes the results tables and plots to docs/RESULTS.md, docs/results/ and a JSON.
    """
    import torch

    from plantpulse.pipelines.evaluate import report
    from plantpulse.pipelines.evaluate.protocols import run_protocols

    if threads:
        torch.set_num_threads(threads)
    names = _names(protocol_names)
    root = settings.require_datasets_dir()
    if not Path(root).is_dir():
        raise ConfigError(f"Datasets folder {root} does not exist; set PLANTPULSE_DATASETS to the folder "
                          f"holding the public datasets (see docs/datasets.md).")
    check_datasets(Path(root), names)
    budget = resolve_budget(budget, from_checkpoint, checkpoint_dir)
    ctx = EvalContext(Path(root), _seeds(seeds), BUDGETS[budget], work_dir or settings.home / "evaluate" / budget,
                      checkpoint_dir, image_dir, from_checkpoint, not no_ablations,
                      echo=lambda line: click.echo(line, err=True))
    called = Path(sys.argv[0]).name == "plantpulse"
    command = "plantpulse " + shlex.join(sys.argv[1:]) if called else f"plantpulse evaluate (from Python: {names})"
    results, meta = run_protocols(ctx, names, command)
    commentary = notes_path.read_text(encoding="utf-8") if notes_path.is_file() else ""
    report.write(results, meta, md_path, json_path, commentary, order=list(PROTOCOLS))
    if not from_checkpoint:
        from plantpulse.pipelines.evaluate.checkpoints import write_readme

        write_readme(ctx)
    click.echo(f"wrote {md_path} and {json_path} ({meta['wall_s'] / 60:.1f} min)")
    if meta["failed"]:
        raise click.ClickException(f"protocol(s) failed: {', '.join(meta['failed'])}; see the report.")
