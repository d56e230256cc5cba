"""What a model failure means for the user: one plain sentence per kind of failure, and for
the failures only an administrator can cure, which setting to look at.

langchain-openai raises classes that are both the openai error and langchain-core's
provider-neutral Model*Error, so the neutral ones cover any endpoint. The sentences name
settings and the endpoint's address (scheme, host and port, never credentials); the
endpoint's own error text stays in the log.
"""

from __future__ import annotations

import errno
import socket

import openai
from langchain_core import exceptions as lc_errors

from chat.errors import ChatError

# The network's answers that mean no connection can be made to this address as configured:
# nothing listens there, or the name or the route does not exist.
UNREACHABLE_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH})


def describe_model_error(exc: BaseException, *, partial: bool = False) -> str:
    """A sentence for the user; the log has the traceback. `partial`: some of the answer
    had already been shown (and is kept)."""
    if isinstance(exc, ChatError):
        return exc.user_message
    if partial and isinstance(exc, lc_errors.ModelTimeoutError | openai.APITimeoutError):
        return "The model stopped sending its answer. What arrived is kept; retry for a full one."
    if partial and isinstance(exc, lc_errors.ModelConnectionError | openai.APIConnectionError):
        return (
            "The connection to the model was lost during the answer. What arrived is kept; "
            "retry for a full one."
        )
    if isinstance(exc, lc_errors.ModelTimeoutError | openai.APITimeoutError):
        return "The model took too long to answer. Your message is saved; try again."
    if endpoint_unreachable(exc):
        return (
            "The model could not be reached. Your message is saved; retry once it is back. "
            f"For an administrator: {_unreachable_detail(exc)}; check OPENAI_BASE_URL and "
            "that the model server is running."
        )
    if isinstance(exc, lc_errors.ModelAuthenticationError | openai.AuthenticationError):
        return (
            "The model endpoint refused the app's API key. Your message is saved. "
            f"For an administrator: check OPENAI_API_KEY (the key for {_address(exc)})."
        )
    if isinstance(exc, lc_errors.ModelPermissionDeniedError | openai.PermissionDeniedError):
        return (
            "The model endpoint does not let the app's API key use this model. Your message "
            "is saved. For an administrator: check OPENAI_API_KEY's access, or MODELS."
        )
    if isinstance(exc, lc_errors.ModelNotFoundError | openai.NotFoundError):
        return (
            "The model endpoint does not know this model. Your message is saved. "
            f"For an administrator: check MODELS, and OPENAI_BASE_URL ({_address(exc)})."
        )
    if isinstance(exc, lc_errors.ModelRateLimitError | openai.RateLimitError):
        return "The model is busy (rate limited). Wait a moment, then retry."
    if isinstance(exc, lc_errors.ContextOverflowError):
        return "The conversation is too long for this model. Pick a bounded memory strategy."
    if isinstance(exc, lc_errors.ModelConnectionError | openai.APIConnectionError):
        return "The connection to the model was lost. Your message is saved; retry."
    if isinstance(exc, openai.APIStatusError) and exc.status_code < 500:
        return (
            f"The model endpoint refused the request ({exc.status_code}). Your message is "
            "saved; the app's log has the endpoint's reason."
        )
    if isinstance(exc, openai.APIStatusError):
        return f"The model endpoint answered with an error ({exc.status_code}). Retry."
    return "The model failed to answer. Your message is saved; retry."


def endpoint_unreachable(exc: BaseException) -> bool:
    """No connection could be made to the endpoint's address: nothing listens there, or its
    name does not resolve, or there is no route to it. Trying again will not help until the
    address or the server is fixed."""
    return _network_cause(exc) is not None


def _network_cause(exc: BaseException) -> OSError | None:
    """The operating system's error underneath `exc` that says the address is unreachable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return current
        if isinstance(current, OSError) and current.errno in UNREACHABLE_ERRNOS:
            return current
        current = current.__cause__ or current.__context__
    return None


def _unreachable_detail(exc: BaseException) -> str:
    address = _address(exc)
    if isinstance(_network_cause(exc), socket.gaierror):
        return f"the host name in {address} could not be resolved"
    return f"nothing accepted a connection at {address}"


def _address(exc: BaseException) -> str:
    """Scheme, host and port of the request that failed: enough to see which endpoint was
    called, without the path, the query or any credentials written into the URL."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if url is None:
        return "the configured endpoint"
    try:
        host = f"[{url.host}]" if ":" in url.host else url.host  # an IPv6 address
        port = f":{url.port}" if url.port is not None else ""
        return f"{url.scheme}://{host}{port}"
    except (AttributeError, TypeError):
        return "the configured endpoint"
