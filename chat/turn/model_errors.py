"""What a model failure means for the user: one plain sentence per kind of failure.

langchain-openai raises classes that are both the openai error and langchain-core's
provider-neutral Model*Error, so the neutral ones cover any endpoint.
"""

from __future__ import annotations

import openai
from langchain_core import exceptions as lc_errors

from chat.errors import ChatError


def describe_model_error(exc: BaseException, *, partial: bool = False) -> str:
    """A sentence for the user; the log has the traceback. `partial`: some of the answer
    had already been shown (and is kept).

    langchain-openai raises classes that are both the openai error and langchain-core's
    provider-neutral Model*Error, so the neutral ones cover any endpoint."""
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
    if isinstance(exc, lc_errors.ModelAuthenticationError | openai.AuthenticationError):
        return "The model endpoint refused our API key. An operator must check OPENAI_API_KEY."
    if isinstance(exc, lc_errors.ModelRateLimitError | openai.RateLimitError):
        return "The model is busy (rate limited). Wait a moment, then retry."
    if isinstance(exc, lc_errors.ContextOverflowError):
        return "The conversation is too long for this model. Pick a bounded memory strategy."
    if isinstance(exc, lc_errors.ModelConnectionError | openai.APIConnectionError):
        return "The connection to the model was lost. Your message is saved; retry."
    if isinstance(exc, openai.APIStatusError):
        return f"The model endpoint answered with an error ({exc.status_code}). Retry."
    return "The model failed to answer. Your message is saved; retry."
