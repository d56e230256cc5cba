"""Times as the viewer reads them: in their browser's time zone (st.context.timezone).

Stored times are UTC. A browser that does not say its zone, or names one this server does
not know, sees UTC, and the time says so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st


def viewer_zone() -> ZoneInfo | None:
    """The browser's time zone, or None when it is unknown."""
    try:
        name = st.context.timezone
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):  # a zone name this server does not know
        return None


def in_viewer_zone(moment: datetime) -> datetime:
    """`moment` in the viewer's zone (UTC when unknown); a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(viewer_zone() or UTC)


def local_time(moment: datetime) -> str:
    """'2026-12-01 14:05' in the viewer's zone ('2026-12-01 13:05 UTC' when unknown)."""
    shown = f"{in_viewer_zone(moment):%Y-%m-%d %H:%M}"
    return shown if viewer_zone() is not None else f"{shown} UTC"


def local_date(moment: datetime) -> str:
    """'2026-12-01': the day it was in the viewer's zone (in UTC when unknown)."""
    return f"{in_viewer_zone(moment):%Y-%m-%d}"


def zone_name() -> str:
    """The viewer's zone as tables label their times ('Europe/Paris', else 'UTC')."""
    zone = viewer_zone()
    return zone.key if zone is not None else "UTC"
