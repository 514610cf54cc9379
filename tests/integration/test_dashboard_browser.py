"""The dashboard in a real browser: headless Chromium drives a served app on a seeded database.

Signs in with the engineer password, visits every page, uploads a small CSV, reviews a weld
inspection, acknowledges an alert, trains a model for the seeded pumps on Models & results and
promotes the version that was not promoted, then signs in again as a viewer and opens an asset from
the fleet table; checks the expected text is shown and that no Streamlit exception box appears. The
Weld QC gallery must draw no box below each inspection's threshold until its toggle is switched on.
Screenshots land in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
VIEWER_PW, ENGINEER_PW = "look-only-please", "fix-it-when-broken"
CSV = ("asset,timestamp,volt,vibration\n"
       "azure-machine-003,2015-04-02T00:00:00Z,170.5,40.1\n"
       "azure-machine-003,2015-04-02T01:00:00Z,n/a,41.3\n")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--window-size=1400,1000", "--disable-dev-shm-usage")

if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("headless Chromium and chromedriver are not installed (apt-get install chromium "
                "chromium-driver, or `make chromium`)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402 - only once selenium is known to be installed
from selenium.webdriver.chrome.service import Service  # noqa: E402 - only once selenium is known to be installed
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402 - only once selenium is known to be installed
from selenium.webdriver.common.by import By  # noqa: E402 - only once selenium is known to be installed
from selenium.webdriver.common.keys import Keys  # noqa: E402 - only once selenium is known to be installed
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402 - only once selenium is known to be installed


def _seed(home: Path) -> None:
    spec = importlib.util.spec_from_file_location("dashboard_seed", ROOT / "tests" / "app" / "dashboard_seed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("dashboard_seed", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    from plantpulse.data.store.db import Database

    db = Database(f"sqlite:///{home / 'plantpulse.db'}")
    db.upgrade()
    module.seed_sample(db, home / "images")
    module.seed_pumps(db)
    db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the dashboard exited with {process.returncode}: {process.stdout.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail("the dashboard did not become healthy within 60 s")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("browser-home")
    _seed(home)
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    from plantpulse.pipelines.cli.dashboard import streamlit_command

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPULSE_")}
    env |= {"PLANTPULSE_HOME": str(home), "PLANTPULSE_DATABASE_URL": f"sqlite:///{home / 'plantpulse.db'}",
            "PLANTPULSE_TIMEZONE": "Europe/Berlin", "PLANTPULSE_DASHBOARD__PASSWORD": VIEWER_PW,
            "PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD": ENGINEER_PW}
    process = subprocess.Popen(streamlit_command("127.0.0.1", port), env=env, cwd=home, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="plantpulse-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: WebDriver, check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except StaleElementReferenceException:
            pass  # Streamlit re-rendered the page between finding an element and reading it
        time.sleep(0.2)
    _shot(driver, "failure")
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def page_text(driver: WebDriver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "[data-testid='stMain']").text


def idle(driver: WebDriver) -> bool:
    """The script has finished: no "running" indicator and the page footer is drawn."""
    running = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']")
    return not running and "Computed in" in page_text(driver)


def no_exception(driver: WebDriver) -> None:
    boxes = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
    assert not boxes, f"Streamlit exception shown: {boxes[0].text[:2000]}"


def _shot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-{name}.png"))


def label_of(element) -> str:
    """The visible label; Material icons render their name as a first text line."""
    return element.text.strip().split("\n")[-1]


def buttons(driver: WebDriver, label: str) -> list:
    return [b for b in driver.find_elements(By.TAG_NAME, "button") if label_of(b) == label]


def button(driver: WebDriver, label: str):
    found = buttons(driver, label)
    assert found, f"no button labelled {label!r}"
    return found[0]


def sign_in(driver: WebDriver, url: str, name: str, password: str) -> None:
    driver.delete_all_cookies()
    driver.get(url)
    # the form's widgets arrive one by one over the websocket: wait for the whole form
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "input[type='password']")
             and driver.find_elements(By.CSS_SELECTOR, "input[type='text']") and buttons(driver, "Sign in"),
             "the sign-in form")
    driver.find_element(By.CSS_SELECTOR, "input[type='text']").send_keys(name)
    driver.find_element(By.CSS_SELECTOR, "input[type='password']").send_keys(password)
    button(driver, "Sign in").click()
    wait_for(driver, lambda: idle(driver) and "Plant overview" in page_text(driver), "the overview")


def open_page(driver: WebDriver, title: str) -> None:
    links = [a for a in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSidebarNavLink']")
             if label_of(a) == title]
    assert links, f"no sidebar link {title!r}"
    links[0].click()
    wait_for(driver, lambda: idle(driver) and title.split(" ")[0] in page_text(driver), title)


def select_first_row(driver: WebDriver) -> None:
    """Tick the first row of the fleet table (a canvas: header 35 px, rows 35 px, box at 14 px)."""
    for _ in range(3):
        grid = driver.find_element(By.CSS_SELECTOR, "[data-testid='stDataFrame']")
        # offsets count from the centre of the element's *visible* part: show all of it first
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", grid)
        time.sleep(0.3)
        box = grid.rect
        (ActionChains(driver).move_to_element_with_offset(grid, -box["width"] / 2 + 14,
                                                          -box["height"] / 2 + 35 + 17)
         .pause(0.3).click().perform())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if "/asset" in driver.current_url:
                return
            time.sleep(0.2)


PAGES = (  # sidebar title, text the page must show, screenshot name
    ("Plant overview", "below the 30-cycle threshold", "overview"),
    ("Asset detail", "Sensor history", "asset"),
    ("Weld QC", "Awaiting review", "weld"),
    ("Data", "What are you uploading?", "data"),
    ("Models & results", "rul-baseline", "models"),
    ("Jobs", "Run now", "jobs"),
)


def test_engineer_session_end_to_end(server: str, browser: WebDriver) -> None:
    sign_in(browser, server, "Erin", ENGINEER_PW)
    for title, expected, name in PAGES:
        open_page(browser, title)
        wait_for(browser, lambda e=expected: e in page_text(browser), f"{expected!r} on {title}")
        no_exception(browser)
        _shot(browser, name)

    upload = Path(tempfile.mkdtemp()) / "line-a-upload.csv"
    upload.write_text(CSV)
    open_page(browser, "Data")
    browser.find_element(By.CSS_SELECTOR, "input[type='file']").send_keys(str(upload))
    wait_for(browser, lambda: "line-a-upload.csv" in page_text(browser), "the uploaded file name")
    wait_for(browser, lambda: any(b.is_enabled() for b in buttons(browser, "Ingest")), "the Ingest button")
    button(browser, "Ingest").click()
    wait_for(browser, lambda: "1 quarantined" in page_text(browser), "the upload summary")
    shown = page_text(browser)
    assert "3 values stored, 1 quarantined" in shown and "Download 1 quarantined rows (CSV)" in shown, shown
    no_exception(browser)
    _shot(browser, "upload")

    open_page(browser, "Weld QC")
    button(browser, "Review").click()
    wait_for(browser, lambda: buttons(browser, "Accept model result"), "the review dialog")
    _shot(browser, "weld-review")
    button(browser, "Accept model result").click()
    wait_for(browser, lambda: idle(browser) and "saved" in page_text(browser), "the saved review")
    assert "Reviewed\n1" in page_text(browser)
    no_exception(browser)

    open_page(browser, "Plant overview")
    # count the open alerts' buttons once the page is drawn with them (not from a page still drawing)
    wait_for(browser, lambda: idle(browser) and buttons(browser, "Acknowledge"), "the open alerts")
    before = len(buttons(browser, "Acknowledge"))
    button(browser, "Acknowledge").click()
    wait_for(browser, lambda: "acknowledged by Erin" in page_text(browser), "the acknowledgement")
    wait_for(browser, lambda: idle(browser) and len(buttons(browser, "Acknowledge")) == before - 1,
             "one Acknowledge button fewer")
    no_exception(browser)
    _shot(browser, "acknowledged")


def test_viewer_sees_but_cannot_change(server: str, browser: WebDriver) -> None:
    sign_in(browser, server, "Vera", VIEWER_PW)
    text = page_text(browser)
    assert "Vera" in browser.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text
    assert "below the 30-cycle threshold" in text and "Acknowledge" not in text
    select_first_row(browser)
    wait_for(browser, lambda: idle(browser) and "Asset detail" in page_text(browser), "the asset page")
    assert "asset=turbofan-fd001-test-020" in browser.current_url  # worst first: the critical one
    no_exception(browser)
    open_page(browser, "Data")
    assert "Only engineers can upload data" in page_text(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, "input[type='file']")
    no_exception(browser)


COUNT = re.compile(r"(\d+) of (\d+) boxes drawn \((score ≥ [0-9.]+|all scores)\)")


def gallery_counts(home: Path, limit: int = 12) -> list[tuple[int, int]]:
    """(boxes at or above the threshold, all boxes) of the gallery's first page, from the database."""
    with sqlite3.connect(home / "plantpulse.db") as db:
        rows = db.execute("SELECT boxes, threshold FROM weld_inspections "
                          "ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)).fetchall()
    counts = []
    for boxes, threshold in rows:
        scores = [b["score"] for b in json.loads(boxes)]
        counts.append((sum(s is None or s >= threshold for s in scores), len(scores)))
    return sorted(counts)


def shown_counts(driver: WebDriver) -> list[tuple[int, int, str]]:
    return sorted((int(n), int(m), rule) for n, m, rule in COUNT.findall(page_text(driver)))


def test_weld_gallery_draws_no_box_below_the_threshold(server: str, home: Path,
                                                       browser: WebDriver) -> None:
    expected = gallery_counts(home)
    assert expected and all(n < m for n, m in expected)  # every seeded image has weak boxes
    sign_in(browser, server, "Erin", ENGINEER_PW)
    open_page(browser, "Weld QC")
    wait_for(browser, lambda: len(shown_counts(browser)) == len(expected), "a box count on every card")
    shown = shown_counts(browser)
    assert [(n, m) for n, m, _ in shown] == expected, shown
    assert {rule for *_, rule in shown} == {"score ≥ 0.50"}
    assert "threshold 0.50" in page_text(browser) and "Deciding box" in page_text(browser)
    no_exception(browser)
    _shot(browser, "weld-threshold")

    toggle = [e for e in browser.find_elements(By.TAG_NAME, "label")
              if "Show boxes below the threshold" in e.text]
    assert toggle, "no toggle for the boxes below the threshold"
    toggle[0].click()
    wait_for(browser, lambda: idle(browser) and {r for *_, r in shown_counts(browser)} == {"all scores"},
             "every box drawn after the toggle")
    assert [(n, m) for n, m, _ in shown_counts(browser)] == sorted((m, m) for _, m in expected)
    no_exception(browser)
    _shot(browser, "weld-all-boxes")

    button(browser, "Full size").click()
    wait_for(browser, lambda: buttons(browser, "Download the stored image"), "the full-size view")
    no_exception(browser)
    _shot(browser, "weld-full-size")


def open_tab(driver: WebDriver, title: str) -> None:
    tabs = [t for t in driver.find_elements(By.CSS_SELECTOR, "[role='tab']") if title in t.text]
    assert tabs, f"no tab {title!r}"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", tabs[0])  # not under the header
    tabs[0].click()


def choose(driver: WebDriver, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label``."""
    boxes = [b for b in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSelectbox']")
             if b.text.split("\n")[0] == label]
    assert boxes, f"no select box {label!r}"
    boxes[0].find_element(By.CSS_SELECTOR, "input").click()
    wait_for(driver, lambda: [o for o in driver.find_elements(By.CSS_SELECTOR, "[role='option']")
                              if o.text == option], f"the option {option!r}")
    next(o for o in driver.find_elements(By.CSS_SELECTOR, "[role='option']") if o.text == option).click()
    wait_for(driver, lambda: idle(driver), f"the page after choosing {option!r}")


def type_number(driver: WebDriver, label: str, value: int) -> None:
    field = driver.find_element(By.CSS_SELECTOR, f"input[aria-label='{label}']")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(str(value), Keys.ENTER)
    wait_for(driver, lambda: idle(driver) and driver.find_element(
        By.CSS_SELECTOR, f"input[aria-label='{label}']").get_attribute("value") == str(value), f"{label} = {value}")


def _stop_fits(home: Path) -> None:
    """End a fit this test started that is still running (only when the test failed midway)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"fit" in args and any(str(home / "fits").encode() in a for a in args):
            os.kill(int(cmdline.parent.name), signal.SIGTERM)


def _fit_log(home: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in (home / "fits").glob("*/fit.log"))


def test_engineer_trains_a_model_and_promotes_another(server: str, home: Path, browser: WebDriver) -> None:
    sign_in(browser, server, "Erin", ENGINEER_PW)
    open_page(browser, "Models & results")
    open_tab(browser, "Train a model")
    wait_for(browser, lambda: buttons(browser, "Start training"), "the training form")
    choose(browser, "Asset type", "pump")
    wait_for(browser, lambda: "Event kind that ends a life" in page_text(browser), "the failure-event fields")
    type_number(browser, "Window (steps)", 8)
    type_number(browser, "Stride (steps)", 2)
    type_number(browser, "MoE epochs", 1)
    _shot(browser, "train-form")
    button(browser, "Start training").click()
    try:
        wait_for(browser, lambda: "Started training pump-rul" in page_text(browser), "the start message")
        wait_for(browser, lambda: "Held-out assets" in page_text(browser) or "failed" in page_text(browser),
                 "the finished run", timeout=300)
    finally:
        _stop_fits(home)
    text = page_text(browser)
    assert "Held-out assets" in text, f"{text[-1500:]}\n--- fit log ---\n{_fit_log(home)}"
    assert "baseline (gbm)" in text and "survival (Weibull AFT)" in text and "MoE" in text and "rmse" in text
    no_exception(browser)
    _shot(browser, "train-result")

    promote = [b for b in browser.find_elements(By.TAG_NAME, "button")
               if label_of(b).startswith("Promote pump-rul v")]
    # one button per version not in production: gbm, Weibull survival and MoE were fitted, one promoted
    assert len(promote) == 2, [label_of(b) for b in browser.find_elements(By.TAG_NAME, "button")]
    label = label_of(promote[0])  # e.g. "Promote pump-rul v3 (MoE)"
    version = label.split()[2]
    promote[0].click()
    wait_for(browser, lambda: f"pump-rul {version} promoted" in page_text(browser), "the promotion")
    open_tab(browser, "Model versions")
    wait_for(browser, lambda: f"{version} in production" in page_text(browser), f"pump-rul {version} in production")
    no_exception(browser)

    sign_in(browser, server, "Vera", VIEWER_PW)
    open_page(browser, "Models & results")
    open_tab(browser, "Train a model")
    wait_for(browser, lambda: "Only engineers can start training" in page_text(browser), "the viewer's tab")
    wait_for(browser, lambda: "Held-out assets" in page_text(browser), "the run's results for the viewer")
    assert not buttons(browser, "Start training")
    assert not [b for b in browser.find_elements(By.TAG_NAME, "button") if label_of(b).startswith("Promote")]
    no_exception(browser)
