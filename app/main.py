"""PlantPulse dashboard: ``plantpulse dashboard`` (or ``streamlit run app/main.py``).

Reads the settings once per run, signs the user in, checks the database schema, then hands over
to the page chosen in the sidebar. Pages live in ``plantpulse.app.views`` and are imported only
when first opened.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import streamlit as st

from plantpulse.app import auth, upload_guard
from plantpulse.app.context import AppContext
from plantpulse.app.queries.sql import database, problem
from plantpulse.app.views import PAGES
from plantpulse.app.widgets.components import PAGES_KEY
from plantpulse.app.widgets.timefmt import zone_label
from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.store.db_errors import DATABASE_ERRORS, hide_password


@st.cache_data(ttl=30, show_spinner=False)
def schema_problem(url: str) -> str | None:
    """Why the database cannot be used as it is (None when it can)."""
    try:
        database(url).require_current()
    except PlantPulseError as err:
        return str(err)
    except DATABASE_ERRORS as err:
        return problem(err, url)
    return None


def safe_url(url: str) -> str:
    return hide_password(url)


def _runner(key: str, ctx: AppContext) -> Callable[[], None]:
    def run() -> None:
        module = importlib.import_module(f"plantpulse.app.views.{key}")
        try:
            module.render(ctx)
        except PlantPulseError as err:
            st.error(str(err))
        except DATABASE_ERRORS as err:
            st.error(problem(err, ctx.url))

    run.__name__ = key
    return run


def _sidebar(ctx: AppContext) -> None:
    with st.sidebar:
        role = ":material/engineering: engineer" if ctx.user.can_write else ":material/visibility: viewer"
        st.markdown(f"**{ctx.user.name}**  \n{role}")
        if ctx.user.method != "local" and st.button("Sign out", key="sign-out"):
            auth.sign_out(ctx.user)
            st.rerun()
        st.caption(f"Times in {zone_label(ctx.zone)}  \nDatabase: {safe_url(ctx.url)}")


def main() -> None:
    st.set_page_config(page_title="PlantPulse", page_icon="🏭", layout="wide")
    try:
        settings = load_settings()
    except PlantPulseError as err:
        st.error(str(err))
        st.stop()
    user = auth.current_user(settings)
    upload_guard.admit_session(user.can_write)  # only signed-in engineers may upload
    ctx = AppContext(settings, user)
    problem = schema_problem(ctx.url)
    if problem:
        st.error(problem)
        st.stop()
    pages = {key: st.Page(_runner(key, ctx), title=title, icon=icon, url_path=key,
                          default=key == "overview") for key, title, icon in PAGES}
    st.session_state[PAGES_KEY] = pages
    page = st.navigation(list(pages.values()))
    _sidebar(ctx)
    page.run()


main()
