"""Dashboard passwords: the length rule and scrypt hashes, so settings need not hold plain text.

A hash is one line, ``scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>``, made by
``plantpulse dashboard hash-password`` and set as ``PLANTPULSE_DASHBOARD__PASSWORD_HASH`` or
``…__ENGINEER_PASSWORD_HASH``. scrypt comes with Python (``hashlib``); its cost also slows down
anyone who guesses passwords at the sign-in form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

MIN_PASSWORD_LENGTH = 12
SCHEME = "scrypt"
#: n=2**15, r=8, p=1: 32 MiB of memory per check; stronger settings can be stored in the hash.
DEFAULT_N, DEFAULT_R, DEFAULT_P = 2**15, 8, 1
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16
_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class ScryptHash:
    """A parsed password hash."""

    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def encode(self) -> str:
        salt, key = (base64.b64encode(raw).decode("ascii") for raw in (self.salt, self.key))
        return f"{SCHEME}${self.n}${self.r}${self.p}${salt}${key}"


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # scrypt needs 128 * r * n bytes; allow that plus room for its own bookkeeping.
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=129 * r * n + (1 << 20))


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be used (None when it may)."""
    if not password:
        return "is empty"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"has {len(password)} characters; at least {MIN_PASSWORD_LENGTH} are required"
    return None


def hash_password(password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """The scrypt hash of ``password`` with a fresh random salt, as one line."""
    problem = password_problem(password)
    if problem:
        msg = f"The password {problem}; choose a longer one (a passphrase of a few words works well)."
        raise ValueError(msg)
    salt = secrets.token_bytes(16)
    return ScryptHash(n, r, p, salt, _derive(password, salt, n, r, p, _KEY_BYTES)).encode()


def parse_hash(encoded: str) -> ScryptHash:
    """Parse a hash made by :func:`hash_password`; ValueError says what is wrong with it."""
    parts = encoded.strip().split("$")
    fix = "Make one with `plantpulse dashboard hash-password`."
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError(f"is not a password hash of the form scrypt$n$r$p$salt$key. {fix}")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, key = (base64.b64decode(x, validate=True) for x in parts[4:6])
    except (ValueError, binascii.Error) as err:
        raise ValueError(f"is not a readable scrypt hash ({err}). {fix}") from err
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        msg = (f"has scrypt parameters n={n}, r={r}, p={p}; n must be a power of two up to "
               f"{_MAX_N}, r at most {_MAX_R}, p at most {_MAX_P}. {fix}")
        raise ValueError(msg)
    if len(salt) < 8 or len(key) < 16:
        raise ValueError(f"has a salt or key that is too short. {fix}")
    return ScryptHash(n, r, p, salt, key)


def verify_password(typed: str, encoded: str) -> bool:
    """True when ``typed`` is the password behind ``encoded`` (compared in constant time)."""
    stored = parse_hash(encoded)
    derived = _derive(typed, stored.salt, stored.n, stored.r, stored.p, len(stored.key))
    return hmac.compare_digest(derived, stored.key)
