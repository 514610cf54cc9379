"""The Weld QC gallery's display rule: boxes below the threshold are not drawn unless asked for,
the deciding box is highlighted, and the full-size view zooms on it (widgets and the page)."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from pages import run_page, texts
from PIL import Image

from plantpulse.app.views import weld as weld_page
from plantpulse.app.widgets import weld as views
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import WeldInspection

REJECT = ("Bad Weld", "Defect")
STRONG = {"class_name": "Defect", "score": 0.81, "box": [20, 20, 60, 60]}
WEAK_BAD = {"class_name": "Bad Weld", "score": 0.04, "box": [120, 120, 180, 180]}
WEAK_GOOD = {"class_name": "Good Weld", "score": 0.02, "box": [120, 20, 180, 60]}
GOOD = {"class_name": "Good Weld", "score": 0.7, "box": [20, 120, 60, 180]}
REVIEWED = {"class_name": "Defect", "score": None, "box": [70, 70, 90, 90]}


def row(*boxes: dict, threshold: float = 0.5) -> dict:
    return {"boxes": list(boxes), "threshold": threshold}


def rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])


def pixels_of(png: bytes, colour: str, region: tuple[int, int, int, int]) -> int:
    """How many pixels of ``region`` (x1, y1, x2, y2) have exactly ``colour``."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    x1, y1, x2, y2 = region
    return int((np.abs(image[y1:y2, x1:x2] - rgb(colour)).sum(axis=2) == 0).sum())


@pytest.fixture
def plain_image(tmp_path) -> str:
    path = tmp_path / "weld.png"
    Image.new("RGB", (200, 200), (128, 128, 128)).save(path)
    return str(path)


def test_only_boxes_at_or_above_the_threshold_are_drawn_by_default() -> None:
    view = views.view_of(row(STRONG, WEAK_BAD, WEAK_GOOD, GOOD), REJECT)
    assert list(view.shown) == [STRONG, GOOD]
    assert view.count_line() == "2 of 4 boxes drawn (score ≥ 0.50)"
    assert [b["score"] for b in json.loads(views.drawn_json(view))] == [0.81, 0.7]


def test_a_box_exactly_at_the_threshold_is_drawn() -> None:
    at = {**WEAK_BAD, "score": 0.5}
    assert views.view_of(row(at, WEAK_GOOD), REJECT).shown == (at,)


def test_the_toggle_draws_every_box() -> None:
    view = views.view_of(row(STRONG, WEAK_BAD, WEAK_GOOD, GOOD), REJECT, show_all=True)
    assert len(view.shown) == 4 and view.hidden == 0
    assert view.count_line() == "4 of 4 boxes drawn (all scores)"


def test_reviewer_boxes_without_score_are_always_drawn() -> None:
    assert views.view_of(row(REVIEWED, WEAK_BAD), REJECT).shown == (REVIEWED,)


def test_the_deciding_box_is_the_best_reject_class_box() -> None:
    view = views.view_of(row(GOOD, WEAK_BAD, STRONG), REJECT)
    flags = [b["deciding"] for b in json.loads(views.drawn_json(view))]
    assert view.deciding_box == STRONG and flags == [False, True]
    assert view.deciding_line() == "Deciding box: Defect 0.81"


def test_a_deciding_box_below_the_threshold_is_named_but_not_drawn() -> None:
    view = views.view_of(row(GOOD, WEAK_BAD), REJECT)
    assert view.deciding is None and view.deciding_box == WEAK_BAD
    assert view.deciding_line() == "Deciding box: Bad Weld 0.04 (below the threshold, not drawn)"
    assert views.view_of(row(GOOD), REJECT).deciding_line() == "No reject-class box."


def test_rendered_image_has_no_box_below_the_threshold(plain_image: str) -> None:
    boxes = row(STRONG, WEAK_BAD, WEAK_GOOD)
    weak_region = (110, 10, 190, 190)  # around both weak boxes, away from the strong one
    default = views.annotated(plain_image, views.drawn_json(views.view_of(boxes, REJECT)), 200)
    every = views.annotated(plain_image, views.drawn_json(views.view_of(boxes, REJECT, True)), 200)
    for colour in (views.box_color("Bad Weld"), views.box_color("Good Weld")):
        assert pixels_of(default, colour, weak_region) == 0
        assert pixels_of(every, colour, weak_region) > 100
    assert pixels_of(default, views.box_color("Defect"), (0, 0, 100, 100)) > 100


def test_rendered_deciding_box_is_thicker(plain_image: str) -> None:
    other = {**STRONG, "score": 0.6, "box": [120, 120, 160, 160]}
    png = views.annotated(plain_image, views.drawn_json(views.view_of(row(STRONG, other), REJECT)), 200)
    colour = views.box_color("Defect")
    # left edges at mid-height: the deciding box's outline is DECIDING_WIDTH px, the other 3 px
    assert pixels_of(png, colour, (15, 40, 30, 41)) == views.DECIDING_WIDTH
    assert pixels_of(png, colour, (115, 140, 130, 141)) == 3


def test_full_size_and_zoom(plain_image: str) -> None:
    png = views.annotated(plain_image, views.drawn_json(views.view_of(row(STRONG), REJECT)), None)
    assert Image.open(io.BytesIO(png)).size == (200, 200)
    zoomed = views.zoomed(png, 4, views.box_centre(STRONG))
    assert Image.open(io.BytesIO(zoomed)).size == (200, 200)
    # 4x on the box centre (40, 40): the 50 px crop starts at the image corner (kept inside)
    assert pixels_of(zoomed, views.box_color("Defect"), (0, 0, 200, 200)) > 1000
    assert views.zoomed(png, 1) == png


def test_verdict_line_states_score_against_threshold() -> None:
    assert weld_page.verdict_line({"verdict": "reject", "reject_score": 0.62, "threshold": 0.47}) == (
        ":red[**REJECT**] · score 0.62 ≥ threshold 0.47")
    assert weld_page.verdict_line({"verdict": "pass", "reject_score": 0.04, "threshold": 0.47}) == (
        ":green[**PASS**] · score 0.04 < threshold 0.47")


COUNT = re.compile(r"(\d+) of (\d+) boxes drawn \((score ≥ 0\.50|all scores)\)")


def expected_counts(url: str, limit: int = 12) -> list[tuple[int, int]]:
    """(at or above threshold, all) per inspection of the gallery's first page, from the database."""
    with Database(url).session() as session:
        rows = session.query(WeldInspection).order_by(WeldInspection.created_at.desc(),
                                                       WeldInspection.id.desc()).limit(limit).all()
        return sorted((sum(b["score"] >= r.threshold for b in r.boxes), len(r.boxes)) for r in rows)


def test_page_draws_no_box_below_the_threshold_until_toggled(plant) -> None:
    at = run_page("weld")
    assert not at.exception, at.exception
    found = sorted((int(n), int(m)) for n, m, _ in COUNT.findall(texts(at)))
    expected = expected_counts(plant.url)
    assert found == expected and all(n < m for n, m in found)  # every seeded image has weak boxes
    assert "score 0.90 ≥ threshold 0.50" in texts(at) and "Deciding box: " in texts(at)
    at.toggle(key=weld_page.SHOW_ALL_KEY).set_value(True).run()
    assert not at.exception, at.exception
    shown = COUNT.findall(texts(at))
    assert sorted((int(n), int(m)) for n, m, _ in shown) == sorted((m, m) for _, m in expected)
    assert {rule for *_, rule in shown} == {"all scores"}


def test_full_size_view_opens_with_zoom(plant) -> None:
    at = run_page("weld")
    at.button(key="zoom-open-15").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "×" in shown and "px" in shown and "Deciding box" in shown
    at.select_slider(key="zoom-15").set_value(3).run()
    assert not at.exception, at.exception
