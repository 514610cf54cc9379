"""PlantPulse dashboard: ``plantpulse dashboard`` (or ``streamlit run app/main.py``).

Reads the settings once per run, signs the user in, checks the database schema, then hands over
to the page chosen in the sidebar. Pages live in ``plantpulse.app.views`` and are imported only
when first opened.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import streamlit as st
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from plantpulse.app import auth, upload_guard
from plantpulse.app.components import PAGES_KEY
from plantpulse.app.context import AppContext
from plantpulse.app.queries.sql import database
from plantpulse.app.timefmt import zone_label
from plantpulse.data.errors import PlantPulseError
from plantpulse.pipelines.config import load_settings

# key (module in plantpulse.app.views and URL path), title, icon
PAGES = (
    ("overview", "Plant overview", ":material/factory:"),
    ("asset", "Asset detail", ":material/monitoring:"),
    ("weld", "Weld QC", ":material/center_focus_strong:"),
    ("data", "Data", ":material/upload_file:"),
    ("models", "Models & results", ":material/model_training:"),
    ("jobs", "Jobs", ":material/schedule:"),
)


@st.cache_data(ttl=30, show_spinner=False)
def schema_problem(url: str) -> str | None:
    """Why the database cannot be used as it is (None when it can)."""
    try:
        database(url).require_current()
    except PlantPulseError as err:
        return str(err)
    except OperationalError as err:
        return f"The database did not answer ({err.orig}). Check PLANTPULSE_DATABASE_URL."
    return None


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _runner(key: str, ctx: AppContext) -> Callable[[], None]:
    def run() -> None:
        module = importlib.import_module(f"plantpulse.app.views.{key}")
        try:
            module.render(ctx)
        except PlantPulseError as err:
            st.error(str(err))
        except (OperationalError, ProgrammingError) as err:
            st.error(f"The database refused a query ({type(err.orig).__name__}: {err.orig}). "
                     "If the schema is old, run `plantpulse db upgrade`.")

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
