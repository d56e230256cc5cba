"""The API application, mounted by chat/web/app.py under /api of the app's own server."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from chat.api import errors, openai_routes, seed_routes
from chat.api.auth import ServicesGetter
from chat.api.errors import error_body
from chat.api.schemas import ErrorBody, Health
from chat.errors import ChatError
from chat.settings import get_settings
from chat.storage.db import unit_of_work

log = logging.getLogger(__name__)

DESCRIPTION = """
The chat app's conversations over HTTP, with the same accounts, limits and memory
strategies as the web page. Authenticate with `Authorization: Bearer <key>`; create a key
on the Account page or with `python -m chat keys create USERNAME`. The server keeps each
conversation's history: send only the new message and name the conversation.
"""

ERRORS = {
    400: "Bad input: the message says what to send",
    401: "No valid API key",
    404: "Not found, or not this key's user's",
    422: "A field of the wrong type, missing or malformed",
    429: "A usage limit; see Retry-After",
}


def create_api(services: ServicesGetter) -> FastAPI:
    """The API over the process's services. `services` is called on each request (the
    first call builds them when no page has yet), so the API and the pages share one pool,
    one liveness lock and one turn engine."""
    # The docs page's script and styles are served from here, not from a CDN: the app's
    # Content-Security-Policy (chat/web/headers.py) lets a page load only this origin's.
    api = FastAPIOffline(
        title="Chat API",
        description=DESCRIPTION,
        version="1",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        static_url="/docs-assets",
        # Refusals are ErrorBody (chat/api/errors.py), FastAPI's own 422 shape included.
        responses={
            status: {"model": ErrorBody, "description": description}
            for status, description in ERRORS.items()
        },
    )
    api.state.services = services
    api.add_middleware(BodyLimit)
    api.add_middleware(SwitchedOff)
    errors.install(api)
    api.include_router(seed_routes.router)
    api.include_router(openai_routes.router)

    @api.get("/health", response_model=Health, tags=["Health"])
    def health() -> JSONResponse:
        """The database's state (no key needed): 200 when it answers, else 503."""
        try:
            with unit_of_work(services().sessions) as session:
                session.connection().exec_driver_sql("SELECT 1")
        except ChatError:
            body = Health(status="unavailable", database="unavailable")
            return JSONResponse(body.model_dump(), status_code=503)
        return JSONResponse(Health(status="ok", database="ok").model_dump())

    return api


class SwitchedOff:
    """Every request gets a 404 while API_ENABLED is false. The settings are read on a
    request, not when asgi.py assembles the app at import (nothing reads them then)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not get_settings().api_enabled:
            body = error_body("The HTTP API is switched off on this server.", "not_found")
            await JSONResponse(body, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """A request body larger than any acceptable message (plus a system message and JSON
    escapes) is refused with a 413 before it is read. A body sent without Content-Length
    is read by FastAPI, and its message is then checked like any other."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            limit = max_body_bytes()
            for name, value in scope.get("headers", []):
                if name == b"content-length" and value.isdigit() and int(value) > limit:
                    message = f"The request body can be at most {limit:,} bytes."
                    body = error_body(message, "invalid_request_error", "body_too_large")
                    await JSONResponse(body, status_code=413)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def max_body_bytes() -> int:
    """Room for the longest message at 8 bytes a character (JSON escapes of UTF-16
    surrogate pairs are 12 bytes for 2), and 1 MiB for the rest."""
    return 8 * get_settings().max_message_chars + 1024 * 1024
