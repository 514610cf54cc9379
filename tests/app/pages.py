"""Run one dashboard page in streamlit.testing's AppTest, signed in with a given role."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

TIMEOUT_S = 60


def _page(page: str, role: str) -> None:  # runs inside AppTest as a script
    import importlib

    from plantpulse.app.auth import User
    from plantpulse.app.context import AppContext
    from plantpulse.data.core.config.settings import load_settings

    ctx = AppContext(load_settings(), User("Tess", role, "password"))
    importlib.import_module(f"plantpulse.app.views.{page}").render(ctx)


def run_page(page: str, role: str = "engineer") -> AppTest:
    return AppTest.from_function(_page, args=(page, role), default_timeout=TIMEOUT_S).run()


def texts(at: AppTest) -> str:
    """Every piece of text an AppTest run shows, joined (for "does it say X" checks)."""
    parts = [e.value for kind in ("markdown", "caption", "title", "subheader", "header", "info",
                                  "success", "warning", "error")
             for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def buttons(at: AppTest, label: str) -> list:
    return [b for b in at.button if b.label == label]
