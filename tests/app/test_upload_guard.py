"""Uploads: no upload widget before sign-in, no stored upload from a session that is not a
signed-in engineer, bounded per session, released after ingest."""

from __future__ import annotations

from pathlib import Path

import pytest
from pages import run_page
from starlette.exceptions import HTTPException
from streamlit.proto.Common_pb2 import FileURLs
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec
from streamlit.testing.v1 import AppTest

from plantpulse.app import auth, serve, upload_guard
from plantpulse.app.upload_guard import GuardedUploadedFileManager, UploadGate, UploadLimits
from plantpulse.data.core.config.settings import load_settings

MAIN = Path(__file__).resolve().parents[2] / "app" / "main.py"
LIMITS = UploadLimits(max_files=2, max_total_bytes=1000)


def _rec(file_id: str, size: int) -> UploadedFileRec:
    return UploadedFileRec(file_id, f"{file_id}.csv", "text/csv", b"x" * size)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> UploadGate:
    fresh = UploadGate(LIMITS)
    monkeypatch.setattr(upload_guard, "GATE", fresh)
    return fresh


@pytest.fixture
def manager(gate: UploadGate) -> GuardedUploadedFileManager:
    store = GuardedUploadedFileManager("/_stcore/upload_file")
    store.gate = gate
    return store


@pytest.mark.parametrize("env", [
    {"PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD": "fix-the-machines"},
    {"PLANTPULSE_DASHBOARD__OIDC": "true"},
], ids=["password", "oidc"])
def test_sign_in_page_has_no_upload_widget(plant, monkeypatch: pytest.MonkeyPatch, env: dict) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(MAIN), default_timeout=60).run()
    assert not at.exception and [t.value for t in at.title] == ["PlantPulse"]
    assert not at.get("file_uploader")


def test_only_a_signed_in_engineer_session_may_upload(plant, monkeypatch: pytest.MonkeyPatch,
                                                      gate: UploadGate) -> None:
    monkeypatch.setenv("PLANTPULSE_DASHBOARD__PASSWORD", "look-at-the-plant")
    monkeypatch.setenv("PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD", "fix-the-machines")
    monkeypatch.setattr(auth, "FAILED_LOGIN_DELAY_S", 0.0)
    allowed = lambda: [sid for sid, usage in gate._sessions.items() if usage.allowed]  # noqa: E731 - a one-line helper local to the test
    for password, may_upload in (("look-at-the-plant", False), ("fix-the-machines", True)):
        at = AppTest.from_file(str(MAIN), default_timeout=60).run()
        assert allowed() == []
        at.text_input[1].input(password)
        at.button[0].click().run()
        assert bool(allowed()) is may_upload
    at.sidebar.button(key="sign-out").click().run()
    assert allowed() == []


def test_a_session_that_is_not_signed_in_stores_nothing(manager: GuardedUploadedFileManager) -> None:
    with pytest.raises(HTTPException) as refused:
        manager.add_file("visitor", _rec("a", 100))
    assert refused.value.status_code == 403 and "not signed in as an engineer" in refused.value.detail
    assert manager.get_files("visitor", ["a"]) == [] and manager.get_stats() == {}


def test_uploads_are_bounded_per_session(manager: GuardedUploadedFileManager, gate: UploadGate) -> None:
    gate.allow("eng")
    manager.add_file("eng", _rec("a", 600))
    with pytest.raises(HTTPException, match="would exceed") as too_big:
        manager.add_file("eng", _rec("b", 401))
    assert too_big.value.status_code == 413
    manager.add_file("eng", _rec("b", 400))
    with pytest.raises(HTTPException, match="already uploaded 2 files"):
        manager.add_file("eng", _rec("c", 1))
    assert gate.usage("eng") == (2, 1000)
    assert [r.file_id for r in manager.get_files("eng", ["a", "b", "c"])] == ["a", "b"]


def test_revoked_and_closed_sessions_are_forgotten(manager: GuardedUploadedFileManager,
                                                   gate: UploadGate) -> None:
    gate.allow("eng")
    manager.add_file("eng", _rec("a", 10))
    gate.revoke("eng")
    with pytest.raises(HTTPException, match="not signed in"):
        manager.add_file("eng", _rec("b", 10))
    manager.remove_session_files("eng")  # what Streamlit calls when the session ends
    assert manager.get_files("eng", ["a"]) == [] and gate.usage("eng") == (0, 0)
    assert gate._sessions == {}


def test_streamlit_upload_route_refuses_a_visitor(manager: GuardedUploadedFileManager, gate: UploadGate,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The PUT a visitor on the sign-in page can send, through Streamlit's own route."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient
    from streamlit.web.server.starlette import starlette_routes

    class Runtime:
        def is_active_session(self, session_id: str) -> bool:
            return True

    monkeypatch.setattr(starlette_routes, "is_xsrf_enabled", lambda: False)
    app = Starlette(routes=starlette_routes.create_upload_routes(Runtime(), manager, None))
    client = TestClient(app)
    put = lambda sid, fid: client.put(f"/_stcore/upload_file/{sid}/{fid}",  # noqa: E731 - a one-line helper local to the test
                                      files={"file": ("a.csv", b"x" * 300, "text/csv")})
    assert put("visitor", "f1").status_code == 403
    gate.allow("eng")
    assert [put("eng", f"f{i}").status_code for i in range(3)] == [204, 204, 413]
    assert manager.get_files("visitor", ["f1"]) == [] and len(manager.get_files("eng", ["f0", "f1"])) == 2


def test_release_drops_the_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryUploadedFileManager("/_stcore/upload_file")
    store.add_file("eng", _rec("a", 50))
    file = UploadedFile(store.get_files("eng", ["a"])[0], FileURLs())
    upload_guard.release(file, store, "eng")
    assert store.get_files("eng", ["a"]) == [] and store.get_stats() == {} and file.closed


def test_data_page_releases_the_upload_after_ingest(plant, monkeypatch: pytest.MonkeyPatch) -> None:
    released: list[str] = []
    monkeypatch.setattr(upload_guard, "release", lambda file: released.append(file.name))
    at = run_page("data")
    at.file_uploader(key="upload-sensors").set_value(
        ("a.csv", b"asset,timestamp,volt\nazure-machine-001,2015-04-02T00:00:00Z,170.5\n", "text/csv")).run()
    at.button(key="upload-go").click().run()
    assert not at.exception and released == ["a.csv"]


def test_install_makes_the_server_use_the_guarded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.web.server import server

    monkeypatch.setattr(server, "MemoryUploadedFileManager", server.MemoryUploadedFileManager)
    monkeypatch.setattr(upload_guard.GATE, "limits", upload_guard.GATE.limits)
    settings = load_settings(env={"PLANTPULSE_INGEST__MAX_UPLOADS_PER_SESSION": "3",
                                  "PLANTPULSE_INGEST__MAX_SESSION_UPLOAD_MB": "10"})
    upload_guard.install(upload_guard.limits_from(settings))
    assert server.MemoryUploadedFileManager is GuardedUploadedFileManager
    assert upload_guard.GATE.limits == UploadLimits(3, 10 * 1024 * 1024)


def test_serve_sets_the_upload_size_from_the_settings() -> None:
    assert serve.upload_options(["--server.port", "1"], 20.5) == [
        "--server.port", "1", "--server.maxUploadSize", "21"]
    assert serve.upload_options(["--server.maxUploadSize", "5"], 20.5) == ["--server.maxUploadSize", "5"]
