"""The route that turns a just-signed-in browser's one-time code into its session cookie.

Streamlit talks to the page over a websocket, which cannot set cookies, and a cookie set
from JavaScript can be read by any script on the page. So after signing in the page posts
the code here (a form post: the code never appears in a URL), and this answer sets the
cookie itself: HttpOnly, SameSite=Strict, Secure when the browser came over https (directly
or through a listed proxy), then sends the browser back to the app.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from chat.errors import ChatError
from chat.services import Services

SESSION_PATH = "/session"


def session_routes(services: Callable[[], Services]) -> list[BaseRoute]:
    async def exchange(request: Request) -> Response:
        back = RedirectResponse("/", status_code=303)
        # A form on another site cannot sign this browser in (into the attacker's account).
        site = request.headers.get("sec-fetch-site")
        if site and site not in ("same-origin", "none"):
            return back
        # Host names only: a proxy may pass the Host header on without its port.
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).hostname != request.url.hostname:
            return back
        body = await request.body()
        fields = parse_qs(body[:4096].decode("latin-1"))
        code = (fields.get("code") or [""])[0][:128]
        if not code:
            return back
        try:
            built = await run_in_threadpool(services)
            issued = await run_in_threadpool(built.browser_sessions.redeem, code=code)
        except ChatError:
            return back  # the page says what is wrong (e.g. the database is down)
        if issued is not None:
            back.set_cookie(
                built.settings.cookie_name,
                issued.value,
                max_age=issued.max_age_s,
                path="/",
                secure=request.url.scheme == "https",
                httponly=True,
                samesite="strict",
            )
        return back

    return [Route(SESSION_PATH, exchange, methods=["POST"])]
