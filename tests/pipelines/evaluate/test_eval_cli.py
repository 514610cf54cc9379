"""``plantpulse evaluate``: help, and clear errors before any training."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from plantpulse.pipelines.cli.main import cli, main


def test_help_lists_protocols_and_tasks():
    result = CliRunner().invoke(cli, ["evaluate", "--help"])
    assert result.exit_code == 0, result.output
    for word in ("cmapss", "cwru", "azure_pdm", "maintnet", "ai4i2020", "weld", "experts", "rul:turbofan",
                 "fault:bearing", "failure24h:machine", "--from-checkpoint", "quick"):
        assert word in result.output


def test_unknown_protocol_lists_the_known_ones(tmp_path: Path, capsys):
    code = main(["--home", str(tmp_path), "evaluate", "--protocols", "cmapss,fd005"])
    assert code == 2
    assert "Unknown evaluation protocol 'fd005'. Available: ai4i2020, azure_pdm, cmapss" in capsys.readouterr().err


def test_missing_datasets_folder_says_how_to_set_it(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("PLANTPULSE_DATASETS", str(tmp_path / "nowhere"))
    code = main(["--home", str(tmp_path), "evaluate", "--protocols", "ai4i2020"])
    assert code == 2
    assert "does not exist; set PLANTPULSE_DATASETS" in capsys.readouterr().err


@pytest.mark.real_data
def test_altered_dataset_file_is_refused_before_training(datasets_dir: Path, tmp_path: Path, monkeypatch, capsys):
    copy = tmp_path / "datasets" / "ai4i2020"
    shutil.copytree(datasets_dir / "ai4i2020", copy)
    with (copy / "ai4i2020.csv").open("ab") as fh:
        fh.write(b"\n")
    monkeypatch.setenv("PLANTPULSE_DATASETS", str(tmp_path / "datasets"))
    code = main(["--home", str(tmp_path), "evaluate", "--protocols", "ai4i2020", "--out", str(tmp_path / "R.md")])
    err = capsys.readouterr().err
    assert code == 2 and "ai4i2020.csv" in err and not (tmp_path / "R.md").exists()


def test_from_checkpoint_takes_the_checkpoints_budget_and_refuses_another(tmp_path: Path):
    import click

    from plantpulse.data.core.errors import ConfigError
    from plantpulse.data.core.resources import checkpoints_dir
    from plantpulse.pipelines.cli.evaluate import resolve_budget

    assert resolve_budget(None, False, tmp_path) == "full"
    assert resolve_budget("quick", False, tmp_path) == "quick"
    with pytest.raises(ConfigError, match="expected exactly one"):
        resolve_budget(None, True, tmp_path)  # no records at all
    (tmp_path / "a.json").write_text('{"budget": "reduced", "wall_s": 1.0}')
    assert resolve_budget(None, True, tmp_path) == "reduced"
    with pytest.raises(click.BadParameter, match="trained with budget 'reduced', not 'full'"):
        resolve_budget("full", True, tmp_path)
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(ConfigError, match="b.json is unreadable"):
        resolve_budget(None, True, tmp_path)
    committed = checkpoints_dir()
    assert resolve_budget(None, True, committed) == "per-task"
