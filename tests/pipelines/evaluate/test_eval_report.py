"""The report: cell formatting, tables from records, and the weld detector's section kept verbatim."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from plantpulse.pipelines.evaluate import report
from plantpulse.pipelines.evaluate.records import ProtocolResult, RowBuilder, TargetCheck


def _result(tmp_path: Path) -> ProtocolResult:
    moe = RowBuilder("MoE teacher", "moe")
    for seed, value in ((0, 10.0), (1, 12.0)):
        moe.add("FD001", {"rmse": value, "coverage80": 0.8}, seed, 5.0)
    pub = RowBuilder("DCNN", "published", "Li et al. 2018")
    pub.add("FD001", {"rmse": 12.61})
    return ProtocolResult("cmapss", "C-MAPSS", "Last window per engine.", (("FD001", "rmse"), ("FD001", "coverage80")),
                          (pub.row(), moe.row()), (TargetCheck("MoE RMSE FD001", "≤ 11", "11.00", True),),
                          plots=(("curve", tmp_path / "img" / "a.png"),))


@pytest.mark.parametrize(("metric", "value", "text"), [
    ("rmse", (11.0, 1.41421), "11.00 ± 1.41"), ("accuracy", (0.995, math.nan), "99.5 %"),
    ("phm08", (312.4, 20.2), "312 ± 20"), ("macro_f1", None, "–"),
], ids=["rmse", "percent", "score", "missing"])
def test_cell_format(metric, value, text):
    assert report.fmt(metric, value) == text


def test_table_lists_moe_first_with_mean_sd_seeds_and_wall(tmp_path: Path):
    lines = report.table(_result(tmp_path)).splitlines()
    assert lines[2].startswith("| **MoE teacher** | 11.00 ± 1.41 | 80.0 ± 0.0 % | 0, 1 | 10 |")
    assert lines[3] == "| DCNN | 12.61 | – | — | — |"


def test_write_keeps_the_weld_detector_section_and_writes_json(tmp_path: Path):
    md, js = tmp_path / "RESULTS.md", tmp_path / "results.json"
    kept = "## Weld inspection (YOLO)\n\nmAP50 0.5 from bench_weld.\n"
    md.write_text("# old\n\n## C-MAPSS\nold table\n\n" + kept + "\n## Later\nmore\n")
    meta = {"command": "plantpulse evaluate", "commit": "abc", "started": "s", "finished": "f", "wall_s": 60.0,
            "machine": "2 cores", "seeds": [0, 1], "budget": "full"}
    report.write([_result(tmp_path)], meta, md, js, commentary="Hand-written note.")
    text = md.read_text()
    assert kept in text and "old table" not in text and "Hand-written note." in text
    assert "![curve](img/a.png)" in text and "met: MoE RMSE FD001 ≤ 11" in text
    data = json.loads(js.read_text())
    row = next(r for r in data["protocols"][0]["rows"] if r["model"] == "MoE teacher")
    assert row["cells"]["FD001|rmse"] == [10.0, 12.0] and data["meta"]["commit"] == "abc"


def test_missing_weld_section_becomes_a_pointer():
    assert "bench_weld.py" in report.kept_section("# nothing here\n")


def test_protocols_run_separately_add_up_in_one_report(tmp_path: Path):
    md, js = tmp_path / "RESULTS.md", tmp_path / "results.json"
    first = {"command": "plantpulse evaluate --protocols cmapss", "commit": "abc", "started": "s", "finished": "f",
             "wall_s": 60.0, "machine": "2 cores", "seeds": [0, 1], "budget": {"name": "full"}}
    report.write([_result(tmp_path)], first, md, js, order=["cmapss", "ai4i2020"])
    other = RowBuilder("MoE teacher", "moe")
    other.add("failure type", {"macro_f1": 0.5}, 0, 1.0)
    ai4i = ProtocolResult("ai4i2020", "AI4I", "One row.", (("failure type", "macro_f1"),), (other.row(),))
    second = first | {"command": "plantpulse evaluate --protocols ai4i2020", "commit": "def"}
    report.write([ai4i], second, md, js, order=["cmapss", "ai4i2020"])
    text = md.read_text()
    assert text.index("## C-MAPSS") < text.index("## AI4I")
    assert "Kept from an earlier run: `plantpulse evaluate --protocols cmapss` at commit `abc`" in text
    assert "Seeds per protocol: cmapss [0, 1] (budget `full`); ai4i2020 [0, 1]" in text
    assert "11.00 ± 1.41" in text and "0.500" in text and "![curve](img/a.png)" in text
    data = json.loads(js.read_text())
    assert [p["name"] for p in data["protocols"]] == ["cmapss", "ai4i2020"]
    assert data["protocols"][0]["plots"] == ["img/a.png"]
    again = report.from_json(data["protocols"][0], tmp_path)
    assert again.rows[1].cells[("FD001", "rmse")] == (10.0, 12.0) and again.targets[0].met


def test_one_run_names_the_seeds_of_each_protocol(tmp_path: Path):
    md, js = tmp_path / "RESULTS.md", tmp_path / "results.json"
    other = RowBuilder("MoE teacher", "moe")
    other.add("failure type", {"macro_f1": 0.5}, 0, 1.0)
    ai4i = ProtocolResult("ai4i2020", "AI4I", "One row.", (("failure type", "macro_f1"),), (other.row(),))
    meta = {"command": "plantpulse evaluate --budget reduced", "commit": "abc", "started": "s", "finished": "f",
            "wall_s": 60.0, "machine": "2 cores", "seeds": [0, 1, 2],
            "protocol_seeds": {"cmapss": [0, 1, 2], "ai4i2020": [0]},
            "budget": {"name": "reduced", "seeded_protocols": ["cmapss"]}}
    report.write([_result(tmp_path), ai4i], meta, md, js)
    text = md.read_text()
    assert "Seeds: cmapss [0, 1, 2]; ai4i2020 [0]." in text
    assert "only cmapss runs every seed, the other protocols the first one" in text
    assert "run separately" not in text
    runs = [p["details"]["run"]["seeds"] for p in json.loads(js.read_text())["protocols"]]
    assert runs == [[0, 1, 2], [0]]


def test_classification_targets_check_the_teachers_mean_macro_f1():
    from plantpulse.pipelines.evaluate.records import RowBuilder, at_least_targets

    teacher, baseline = RowBuilder("MoE teacher", "moe"), RowBuilder("Gradient boosting", "baseline")
    for seed, f1 in enumerate((0.61, 0.66, 0.69)):
        teacher.add("failure type", {"macro_f1": f1}, seed)
        baseline.add("failure type", {"macro_f1": 0.9}, seed)

    def ai4i(bound: float):
        return ((("failure type", "macro_f1"), "AI4I macro-F1", bound),)

    (check,) = at_least_targets((teacher.row(), baseline.row()), ai4i(0.65))
    assert (check.name, check.target, check.value, check.met) == ("MoE teacher AI4I macro-F1", "≥ 0.65", "0.653", True)
    (missed,) = at_least_targets((teacher.row(),), ai4i(0.66))
    assert not missed.met
    assert at_least_targets((baseline.row(),), ai4i(0.65)) == ()
