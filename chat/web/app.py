"""What the app adds to Streamlit's server, assembled in one place for `asgi.py`.

Every route the app serves lives under ROUTE_PREFIX (Streamlit reserves /_stcore/, /media/,
/component/ and /static/, and the pages use the root), and every HTTP response goes through
the same middleware: the HTTP API mounts its routes here too.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from chat.api.app import create_api
from chat.services import process_services
from chat.web.headers import SecurityHeaders

ROUTE_PREFIX = "/api"


def routes() -> list[BaseRoute]:
    """The app's own HTTP routes, all under ROUTE_PREFIX."""
    return [Mount(ROUTE_PREFIX, app=create_api(process_services))]


def middleware() -> list[Middleware]:
    """Runs before Streamlit's own middleware, on every request and websocket."""
    return [Middleware(SecurityHeaders)]
