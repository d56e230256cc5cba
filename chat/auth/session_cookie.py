"""The remember-me cookie: a JWT (HS256, signed with COOKIE_KEY) naming the user, the
server-side session it belongs to, when it was issued and when it expires.

The issue time is signed into the cookie, never derived from the expiry and the configured
lifetime: shortening COOKIE_EXPIRY_DAYS after an incident must not move old cookies' issue
times forward past a revocation. A cookie whose expiry lies beyond now plus the configured
lifetime is refused too, so a shorter lifetime takes effect at once. Anything else that is
not exactly such a token (another algorithm, a forged header, a missing claim, garbage) is
refused quietly: the visitor sees the login form, never an error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
# Clocks of replicas and of the machine that issued a cookie may differ a little.
CLOCK_SKEW_S = 60.0


@dataclass(frozen=True)
class CookieClaims:
    username: str
    session_id: uuid.UUID | None
    issued_at: float
    expires_at: float


def encode(
    *, key: str, username: str, issued_at: float, lifetime_s: float, session_id: uuid.UUID | None
) -> str:
    claims: dict[str, Any] = {
        "sub": username,
        "iat": issued_at,
        "exp": issued_at + lifetime_s,
    }
    if session_id is not None:
        claims["sid"] = str(session_id)
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def decode(token: object, *, key: str, lifetime_s: float, now: float) -> CookieClaims | None:
    """The cookie's claims, or None for anything that is not a valid, current cookie."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        return None
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM or set(header) - {"alg", "typ"}:
            return None
        data = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            # Times are checked below against the caller's clock (tests move it).
            options={
                "require": ["sub", "iat", "exp"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        username = data["sub"]
        issued_at = float(data["iat"])
        expires_at = float(data["exp"])
        raw_sid = data.get("sid")
        session_id = uuid.UUID(str(raw_sid)) if raw_sid is not None else None
    except (jwt.PyJWTError, KeyError, TypeError, ValueError, AttributeError):
        return None
    if not isinstance(username, str) or not username:
        return None
    if expires_at <= now or expires_at > now + lifetime_s + CLOCK_SKEW_S:
        return None
    if issued_at > now + CLOCK_SKEW_S or issued_at >= expires_at:
        return None
    return CookieClaims(username, session_id, issued_at, expires_at)
