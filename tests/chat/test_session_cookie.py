"""The remember-me cookie carries its signed issue time; anything else is refused quietly."""

from __future__ import annotations

import base64
import json
import uuid

import jwt

from chat.auth import session_cookie

KEY = "k" * 48
DAY = 86400.0
NOW = 1_800_000_000.0


def _token(**claims: object) -> str:
    return jwt.encode(claims, KEY, algorithm="HS256")


def test_round_trip() -> None:
    sid = uuid.uuid4()
    token = session_cookie.encode(
        key=KEY, username="ann", issued_at=NOW - 5, lifetime_s=30 * DAY, session_id=sid
    )
    claims = session_cookie.decode(token, key=KEY, lifetime_s=30 * DAY, now=NOW)
    assert claims is not None
    assert (claims.username, claims.session_id, claims.issued_at) == ("ann", sid, NOW - 5)


def test_a_shorter_lifetime_refuses_older_cookies_at_once() -> None:
    token = session_cookie.encode(
        key=KEY, username="ann", issued_at=NOW - DAY, lifetime_s=30 * DAY, session_id=None
    )
    assert session_cookie.decode(token, key=KEY, lifetime_s=30 * DAY, now=NOW)
    assert session_cookie.decode(token, key=KEY, lifetime_s=1 * DAY, now=NOW) is None


def test_the_issue_time_is_signed_not_derived_from_the_lifetime() -> None:
    token = session_cookie.encode(
        key=KEY, username="ann", issued_at=NOW - 100, lifetime_s=2 * DAY, session_id=None
    )
    claims = session_cookie.decode(token, key=KEY, lifetime_s=2 * DAY, now=NOW)
    assert claims is not None and claims.issued_at == NOW - 100


def test_malformed_and_forged_cookies_are_refused_without_raising() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "../x"}).encode())
    forged = [
        "",
        "garbage",
        "a.b.c",
        None,
        12,
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbm4ifQ.",  # alg none
        jwt.encode({"sub": "ann", "iat": NOW, "exp": NOW + 10}, KEY, algorithm="HS512"),
        header.decode().rstrip("=") + ".e30.sig",
        _token(sub="ann", exp=NOW + 10),  # no issue time (the old cookie format)
        _token(username="ann", exp_date=NOW + 10),
        _token(sub="ann", iat=NOW, exp=NOW + 10, sid="not-a-uuid"),
        _token(sub=["ann"], iat=NOW, exp=NOW + 10),
        _token(sub="ann", iat=NOW + 3600, exp=NOW + 7200),  # issued in the future
        jwt.encode({"sub": "ann", "iat": NOW, "exp": NOW + 10}, "other" * 10, algorithm="HS256"),
    ]
    for token in forged:
        assert session_cookie.decode(token, key=KEY, lifetime_s=DAY, now=NOW) is None, token
