"""Blocking work of API requests (the database, waiting for an answer's next words) runs
on threads of the API's own pool, not AnyIO's default one: Streamlit sizes that one for its
static files (28 threads), and API clients waiting for long answers must not make the
page wait for its scripts. The pool is per process and bounds waiting API requests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread

T = TypeVar("T")
API_THREADS = 64
_limiter: CapacityLimiter | None = None
_END = object()


def _api_limiter() -> CapacityLimiter:
    global _limiter
    if _limiter is None:  # made on first use, inside the server's event loop
        _limiter = CapacityLimiter(API_THREADS)
    return _limiter


async def run_blocking(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    return await to_thread.run_sync(partial(function, *args, **kwargs), limiter=_api_limiter())


async def iterate(iterator: Iterator[T]) -> AsyncIterator[T]:
    """A blocking iterator (a turn's stream) as an async one, a thread per step."""
    while True:
        item = await run_blocking(next, iterator, _END)
        if item is _END:
            return
        yield item
