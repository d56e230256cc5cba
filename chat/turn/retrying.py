"""Retrying a model call that failed in a way another try may cure, and only then.

The app alone decides what is retried (`is_transient`): the openai client's own retries are
off (chat/llm/endpoint.py), because it retries an endpoint that cannot be reached as it does
a busy one, which only delays the sentence that says so.
- Retried: a timeout, a connection lost or dropped, HTTP 408/409/429 and 5xx, at most
  `model_max_retries` times, after a backoff (or the wait the endpoint asked for).
- Not retried: nothing listening at the address or a name that does not resolve, and the
  endpoint's refusals (400, 401, 403, 404, 422...): the same request gets the same answer.
- The answer stream (`retrying_stream`) is retried only before its first text: the user has
  seen nothing, so a new request cannot show them a second, different beginning. Once text
  has been shown the turn service keeps what arrived, marks the answer as failed, and the
  user's Retry reuses the same rows.
- Whole answers (titles, summaries, facts, embeddings: `retrying_call`) follow the same rule.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import openai
from langchain_core import exceptions as lc_errors

from chat.turn.model_errors import endpoint_unreachable

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRIED_STATUSES = frozenset({408, 409, 429})  # and every 5xx


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    base_delay: float = 0.5
    max_delay: float = 4.0
    # An endpoint that asks for a longer pause than this gets no retry: the user reads
    # "busy, wait a moment" now instead of watching a silent page.
    longest_requested_wait: float = 20.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter (half fixed, half random): replicas that lost the
        same upstream at the same moment do not come back in lockstep."""
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def pause_before_retry(self, exc: BaseException, attempt: int) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None: no retry."""
        if attempt >= self.retries or not is_transient(exc):
            return None
        requested = requested_wait(exc)
        if requested is None:
            return self.delay(attempt)
        return requested if requested <= self.longest_requested_wait else None


def is_transient(exc: BaseException) -> bool:
    """A failure another try may cure: a timeout, a lost connection, a busy or failing
    server. Not: an address where nothing answers, or the endpoint's refusal of the request
    itself (its key, its model name, its content)."""
    if endpoint_unreachable(exc):
        return False
    if isinstance(exc, lc_errors.ModelTimeoutError | openai.APITimeoutError):
        return True
    if isinstance(exc, lc_errors.ModelConnectionError | openai.APIConnectionError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRIED_STATUSES or exc.status_code >= 500
    return False


def requested_wait(exc: BaseException) -> float | None:
    """The pause an endpoint asked for with its error (`retry-after-ms` or `retry-after` in
    seconds), if any."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue  # an HTTP date: backoff instead
        if seconds >= 0:
            return seconds
    return None


def retrying_call(call: Callable[[], T], policy: RetryPolicy) -> T:
    """`call()`, tried again after a transient failure, at most `policy.retries` times."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            pause = policy.pause_before_retry(exc, attempt)
            if pause is None:
                raise
            attempt += 1
            _log_retry("model call failed", exc, attempt, policy, pause)
        time.sleep(pause)


def retrying_stream(
    start: Callable[[], Iterator[Any]], policy: RetryPolicy
) -> Generator[Any, None, None]:
    """Chunks of `start()`; a stream that failed before its first text is started again
    after a transient failure, at most `policy.retries` times, after a backoff."""
    attempt = 0
    while True:
        stream = start()
        shown = False
        try:
            for chunk in stream:
                shown = shown or bool(getattr(chunk, "text", ""))
                yield chunk
            return
        except Exception as exc:
            pause = None if shown else policy.pause_before_retry(exc, attempt)
            if pause is None:
                raise
            attempt += 1
            _log_retry("model stream failed before its first text", exc, attempt, policy, pause)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        time.sleep(pause)


def _log_retry(
    what: str, exc: BaseException, attempt: int, policy: RetryPolicy, pause: float
) -> None:
    log.warning(
        "%s (%s); retry %d of %d in %.2fs",
        what,
        type(exc).__name__,
        attempt,
        policy.retries,
        pause,
    )
