"""Password hashing and policy.

bcrypt only reads the first 72 bytes of its input (and bcrypt 5 raises beyond that), so the
password is first reduced with SHA-256 and base64-encoded (44 bytes): long passwords are
accepted whole, never truncated. A fixed dummy hash lets an unknown username cost the same
time as a known one. The policy follows OWASP ASVS 5 (6.2): a minimum length, at least 64
characters allowed, no composition rules, and a bundled list of common passwords refused.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path

import bcrypt

from chat.errors import InvalidInput
from chat.validation import unstorable_reason

MAX_PASSWORD_CHARS = 1024
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[1] / "data" / "common_passwords.txt"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, read once per process (about 13,000 entries)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    return password.strip().lower() in common_passwords()


def _prehash(password: str) -> bytes:
    # surrogatepass: a password typed at login with an unpaired surrogate (the policy never
    # lets one be set) simply does not match, instead of raising.
    return base64.b64encode(hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest())


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
    """Length and common-password rules only (no composition rules); raise InvalidInput."""
    if len(password) < min_chars:
        raise InvalidInput(f"Choose a password of at least {min_chars} characters.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"A password can be at most {MAX_PASSWORD_CHARS:,} characters.")
    if reason := unstorable_reason(password):
        raise InvalidInput(
            f"Your password {reason}, which cannot be typed reliably. Choose another one."
        )
    if password != password.strip():
        # The login form strips what is typed, so such a password could never be used.
        raise InvalidInput("A password cannot start or end with a space.")
    if username and password.strip().lower() == username.strip().lower():
        raise InvalidInput("Your password cannot be your username.")
    if is_common(password):
        raise InvalidInput(
            "This password is on a list of common passwords that attackers try first. "
            "Choose another one (a few unrelated words make a good one)."
        )
