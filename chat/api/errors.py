"""Every refusal of the API as one JSON shape, the one OpenAI's clients read:
`{"error": {"message", "type", "code"}}`, with the status the error calls for.

Domain errors (chat/errors.py) carry a sentence for the user; that sentence is the message.
Anything unexpected is a 500 with a plain sentence; the traceback goes to the log only.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from chat.auth.api_keys import Unauthorized
from chat.errors import (
    AnswerInProgress,
    ChatError,
    DatabaseUnavailable,
    Forbidden,
    InvalidInput,
    LimitReached,
    ModelError,
    NotFound,
    Throttled,
)

log = logging.getLogger(__name__)

# Most specific first: AnswerInProgress is an InvalidInput, DatabaseBusy a DatabaseUnavailable.
STATUS_OF: list[tuple[type[ChatError], int, str]] = [
    (Unauthorized, 401, "invalid_api_key"),
    (AnswerInProgress, 409, "answer_in_progress"),
    (InvalidInput, 400, "invalid_request_error"),
    (NotFound, 404, "not_found"),
    (Forbidden, 403, "forbidden"),
    (LimitReached, 429, "rate_limit_exceeded"),
    (Throttled, 429, "rate_limit_exceeded"),
    (DatabaseUnavailable, 503, "service_unavailable"),
    (ModelError, 502, "model_error"),
]


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "code": code or kind}}


def status_of(exc: ChatError) -> tuple[int, str]:
    for kind, status, name in STATUS_OF:
        if isinstance(exc, kind):
            return status, name
    return 400, "invalid_request_error"


def error_response(exc: ChatError) -> JSONResponse:
    status, name = status_of(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, LimitReached):
        headers["Retry-After"] = str(exc.retry_after or 60)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(exc.user_message, name), status_code=status, headers=headers)


def describe_validation(exc: RequestValidationError) -> tuple[int, str]:
    """A sentence for the first problem with the request (the client fixes one at a time)."""
    first = exc.errors()[0] if exc.errors() else {}
    kind = str(first.get("type", ""))
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    if kind == "json_invalid":
        return 400, "The request body is not valid JSON. Send a JSON object."
    if kind == "missing":
        return 422, f"The field '{where}' is required."
    if kind == "uuid_parsing" or kind == "uuid_type":
        return 422, f"'{where}' is not a valid id: ids are UUIDs, as returned by the API."
    message = str(first.get("msg", "The request is not valid."))
    return 422, f"{where}: {message}." if where else f"{message}."


def install(app: FastAPI) -> None:
    """Register the handlers on the API app."""

    @app.exception_handler(ChatError)
    async def chat_error(request: Request, exc: ChatError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = describe_validation(exc)
        return JSONResponse(error_body(message, "invalid_request_error"), status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = {404: "No such endpoint.", 405: "This endpoint does not take that method."}
        return JSONResponse(
            error_body(message.get(exc.status_code, str(exc.detail)), "invalid_request_error"),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("API request failed: %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            error_body("Something went wrong on the server. Please try again.", "server_error"),
            status_code=500,
        )
