"""What the app adds to Streamlit's server, assembled in one place for `asgi.py`.

Every route the app serves lives under ROUTE_PREFIX (Streamlit reserves /_stcore/, /media/,
/component/ and /static/, and the pages use the root), and every HTTP response goes through
the same middleware: the HTTP API mounts its routes here too.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from chat.api.app import create_api
from chat.errors import ConfigurationError
from chat.services import Services
from chat.settings import get_settings
from chat.web.clients import ClientAddress, parse_networks
from chat.web.headers import SecurityHeaders
from chat.web.session_route import session_routes
from chat.web.websocket_text import RepairLoneSurrogates

ROUTE_PREFIX = "/api"


def routes(services: Callable[[], Services]) -> list[BaseRoute]:
    """The app's own HTTP routes, all under ROUTE_PREFIX: the browser's session exchange,
    then the HTTP API. `services` is the process's getter, shared with the pages."""
    exchange = session_routes(services)
    # The API's mount takes every other path, so the exchange's other methods are refused
    # here (405), not handed on as unknown paths (404).
    other_methods = [
        Route(route.path, _post_only, methods=["GET", "PUT", "PATCH", "DELETE"])
        for route in exchange
        if isinstance(route, Route)
    ]
    return [
        Mount(ROUTE_PREFIX, routes=[*exchange, *other_methods, Mount("", app=create_api(services))])
    ]


async def _post_only(request: Request) -> Response:
    return PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "POST"})


def middleware() -> list[Middleware]:
    """Runs before Streamlit's own middleware, on every request and websocket: first the
    client's address (and scheme) from listed proxies, then the security headers (which
    need the scheme for HSTS). Settings that do not load trust no proxy; the page says
    what is wrong with them."""
    try:
        trusted = parse_networks(get_settings().trusted_proxies)
    except ConfigurationError:
        trusted = ()
    return [
        Middleware(ClientAddress, trusted_proxies=trusted),
        Middleware(SecurityHeaders),
        Middleware(RepairLoneSurrogates),
    ]
