"""Who is using the dashboard, and what they may do.

Three ways in, chosen from the settings:

- **OIDC** (``dashboard.oidc = true``): ``st.login`` with the provider in ``.streamlit/secrets.toml``.
  Engineers are the users listed in ``dashboard.engineers`` (e-mail or subject) or whose
  ``roles``/``groups`` claim contains ``engineer``; everyone else who logs in is a viewer.
- **Password** (``PLANTPULSE_DASHBOARD__PASSWORD`` and/or ``…__ENGINEER_PASSWORD``, at least 12
  characters, or their scrypt hashes ``…__PASSWORD_HASH`` / ``…__ENGINEER_PASSWORD_HASH``): the
  password typed decides the role. Wrong passwords cost a second each, and repeated failures
  lock the name and the client out for a while, across sessions (:mod:`.login_limits`).
- **Local**: no authentication configured is allowed only while the server is bound to a
  loopback address; the local user is an engineer (they can reach the database anyway).

Viewers see everything; only engineers upload, acknowledge, review and promote.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from plantpulse.app import upload_guard
from plantpulse.app.login_limits import LoginLimiter, LoginLimits, shared_limiter
from plantpulse.data.core.config.passwords import verify_password
from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.net import is_loopback

VIEWER, ENGINEER = "viewer", "engineer"
_SESSION_KEY = "plantpulse_user"
FAILED_LOGIN_DELAY_S = 1.0


@dataclass(frozen=True, slots=True)
class User:
    """The signed-in person: a display name (kept on acknowledgements and reviews) and a role."""

    name: str
    role: str
    method: str  # "oidc", "password" or "local"

    @property
    def can_write(self) -> bool:
        return self.role == ENGINEER


class NotAllowedError(PermissionError):
    """A viewer tried an engineer's action."""


def require_engineer(user: User, action: str) -> None:
    """Refuse ``action`` unless ``user`` is an engineer (checked again where the write happens)."""
    if not user.can_write:
        msg = f"{user.name} is signed in as a viewer; only engineers may {action}."
        raise NotAllowedError(msg)


def bind_address() -> str | None:
    """The address the Streamlit server listens on (None: every interface)."""
    return st.get_option("server.address")


def auth_mode(settings: Settings, address: str | None) -> str:
    """``oidc``, ``password``, ``local``, or ``refused`` when nothing protects a public bind."""
    dash = settings.dashboard
    if dash.oidc:
        return "oidc"
    if dash.has_passwords:
        return "password"
    if address and is_loopback(address):
        return "local"
    return "refused"


def password_role(settings: Settings, typed: str) -> str | None:
    """The role a typed password grants, compared in constant time; None when it matches none.

    Settings refuse empty and short passwords, so an empty entry never matches; it is refused
    here as well so that no configuration can turn an empty field into a role.
    """
    if not typed:
        return None
    dash = settings.dashboard
    given = typed.encode()
    for plain, hashed, role in ((dash.engineer_password, dash.engineer_password_hash, ENGINEER),
                                (dash.password, dash.password_hash, VIEWER)):
        if plain is not None and hmac.compare_digest(given, plain.get_secret_value().encode()):
            return role
        if hashed is not None and verify_password(typed, hashed):
            return role
    return None


def oidc_role(settings: Settings, claims: Mapping[str, Any]) -> str:
    """Engineer when listed in ``dashboard.engineers`` or carrying an ``engineer`` role claim."""
    listed = {name.lower() for name in settings.dashboard.engineers}
    ids = {str(claims.get(key, "")).lower() for key in ("email", "sub", "preferred_username")}
    if listed & (ids - {""}):
        return ENGINEER
    for key in ("roles", "groups"):
        values = claims.get(key) or ()
        values = [values] if isinstance(values, str) else values
        if any(str(v).lower() in {"engineer", "plantpulse-engineer"} for v in values):
            return ENGINEER
    return VIEWER


def current_user(settings: Settings) -> User:
    """The signed-in user; renders the login screen and stops the script when there is none."""
    mode = auth_mode(settings, bind_address())
    if mode == "local":
        return User("local user", ENGINEER, "local")
    if mode == "refused":
        st.error("This dashboard is reachable beyond this computer but has no authentication. "
                 "Set PLANTPULSE_DASHBOARD__PASSWORD and PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD, "
                 "or configure OIDC (see docs/dashboard.md), or bind to 127.0.0.1.")
        st.stop()
    if mode == "oidc":
        return _oidc_user(settings)
    user = st.session_state.get(_SESSION_KEY)
    if isinstance(user, User):
        return user
    _password_form(settings)
    st.stop()


def _password_form(settings: Settings) -> None:
    _login_header()
    with st.form("login", border=True):
        name = st.text_input("Your name", help="Shown on alerts you acknowledge and reviews you save.")
        typed = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    limiter, client, name = login_limiter(settings), client_address(), name.strip()[:64]
    wait = limiter.locked_for(name, client)
    if wait > 0:  # refused without looking at the password, so guessing gains nothing
        st.error(f"Too many failed sign-ins for this name or from this computer. Try again in "
                 f"{math.ceil(wait / 60)} min, or ask your PlantPulse administrator.")
        return
    role = password_role(settings, typed)
    if role is None:
        limiter.record_failure(name, client)
        time.sleep(FAILED_LOGIN_DELAY_S)  # slows down guessing
        st.error("Wrong password. Ask your PlantPulse administrator for the viewer or engineer password.")
        return
    st.session_state[_SESSION_KEY] = User(name or role, role, "password")
    st.rerun()


def login_limiter(settings: Settings) -> LoginLimiter:
    """The limiter shared by every session of this server (see :mod:`.login_limits`)."""
    dash = settings.dashboard
    return shared_limiter(LoginLimits(dash.max_failed_logins, dash.failed_login_window_s,
                                      dash.lockout_s))


def client_address() -> str:
    """The client's address as the server sees it ("local" for this computer)."""
    return getattr(st.context, "ip_address", None) or "local"


def _oidc_user(settings: Settings) -> User:
    if not getattr(st.user, "is_logged_in", False):  # absent until OIDC is configured
        _login_header()
        st.button("Sign in with single sign-on", type="primary", on_click=_start_login)
        st.stop()
    claims = st.user.to_dict()
    name = str(claims.get("name") or claims.get("email") or claims.get("sub") or "user")
    return User(name, oidc_role(settings, claims), "oidc")


def _start_login() -> None:
    try:
        st.login()
    except Exception as err:
        st.session_state["plantpulse_login_error"] = str(err)


def _login_header() -> None:
    upload_guard.admit_session(False)  # nobody uploads from the sign-in page
    st.title("PlantPulse")
    st.caption("Predictive maintenance and weld quality. Sign in to continue.")
    error = st.session_state.pop("plantpulse_login_error", None)
    if error:
        st.error(f"Single sign-on is not set up correctly: {error}. Check the [auth] section of "
                 ".streamlit/secrets.toml and that Authlib is installed (pip install 'Authlib>=1.3.2').")


def sign_out(user: User) -> None:
    """End the session's sign-in (and the OIDC session cookie)."""
    st.session_state.pop(_SESSION_KEY, None)
    upload_guard.admit_session(False)
    if user.method == "oidc":
        st.logout()
