"""Password hashing and policy.

bcrypt only reads the first 72 bytes of its input (and bcrypt 5 raises beyond that), so the
password is first reduced with SHA-256 and base64-encoded (44 bytes): long passwords are
accepted whole, never truncated. A fixed dummy hash lets an unknown username cost the same
time as a known one.
"""

from __future__ import annotations

import base64
import functools
import hashlib

import bcrypt

from chat.errors import InvalidInput

MAX_PASSWORD_CHARS = 1024


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, *, rounds: int = 12) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except ValueError:  # a malformed stored hash never matches
        return False


@functools.cache
def dummy_hash(rounds: int = 12) -> str:
    """A real hash of a random string, checked when the username does not exist."""
    return hash_password("no such user: timing stays the same", rounds=rounds)


def check_password_policy(password: str, *, min_chars: int, username: str = "") -> None:
    """Length rules only (no composition rules), per current guidance; raise InvalidInput."""
    if len(password) < min_chars:
        raise InvalidInput(f"Choose a password of at least {min_chars} characters.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"A password can be at most {MAX_PASSWORD_CHARS} characters.")
    if "\x00" in password:
        raise InvalidInput("A password cannot contain a NUL character (\\0).")
    if username and password.strip().lower() == username.strip().lower():
        raise InvalidInput("Your password cannot be your username.")
