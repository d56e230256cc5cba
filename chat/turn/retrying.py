"""Retrying a model stream that failed before any of its text reached the user.

Who retries what, so that retries never multiply:
- The openai client retries a request that fails before the endpoint answers (connection
  refused or reset, timeout, HTTP 429/5xx), `model_max_retries` times, with backoff.
- Nobody retries a stream that the endpoint began (HTTP 200, first chunk) and then lost or
  stalled. Before its first text that is safe to retry: the user has seen nothing, so a new
  request cannot show them a second, different beginning. `retrying_stream` does that, with
  the same budget (`model_max_retries`) and its own backoff.
- Once text has been shown, nothing is retried: the turn service keeps what arrived, marks
  the answer as failed, and the user's Retry reuses the same rows.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import openai
from langchain_core import exceptions as lc_errors
from langchain_core.callbacks import BaseCallbackHandler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    base_delay: float = 0.5
    max_delay: float = 4.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter (half fixed, half random): replicas that lost the
        same upstream at the same moment do not come back in lockstep."""
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class ResponseWatch(BaseCallbackHandler):
    """Notices the endpoint's first streamed chunk (even an empty one): from then on a
    failure is one the client's own retries did not cover."""

    def __init__(self) -> None:
        self.started = False

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.started = True


def is_transient(exc: BaseException) -> bool:
    """A lost or stalled connection, or a server-side error: worth one more try."""
    if isinstance(exc, lc_errors.ModelConnectionError | openai.APIConnectionError):
        return True  # includes timeouts (APITimeoutError is a connection error)
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def retrying_stream(
    start: Callable[[list[BaseCallbackHandler]], Iterator[Any]], policy: RetryPolicy
) -> Generator[Any, None, None]:
    """Chunks of `start(callbacks)`; a stream that the endpoint began and then lost before
    its first text is started again, at most `policy.retries` times, after a backoff."""
    attempt = 0
    while True:
        watch = ResponseWatch()
        stream = start([watch])
        shown = False
        try:
            for chunk in stream:
                shown = shown or bool(getattr(chunk, "text", ""))
                yield chunk
            return
        except Exception as exc:
            if shown or not watch.started or attempt >= policy.retries or not is_transient(exc):
                raise
            pause = policy.delay(attempt)
            attempt += 1
            log.warning(
                "model stream lost before its first text (%s); retry %d of %d in %.2fs",
                type(exc).__name__,
                attempt,
                policy.retries,
                pause,
            )
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        time.sleep(pause)
