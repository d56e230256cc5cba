"""Running a coroutine from a plain test, whatever else the test process runs."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own. Once a browser test has run in this process, the
    session's Playwright (its sync API) keeps an event loop running in the test thread, where
    asyncio.run refuses to start another; the order of tests decides whether one ran first."""
    with ThreadPoolExecutor(max_workers=1) as runner:
        return runner.submit(asyncio.run, coroutine).result()
