"""Who is calling: the API key in `Authorization: Bearer <key>`, checked on every request
(a revoked key or a disabled user is refused at once), and where from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chat.auth.accounts import Account
from chat.services import Services

ServicesGetter = Callable[[], Services]


def get_services(request: Request) -> Services:
    """The process's services (built on the first request when no page came first)."""
    getter: ServicesGetter = request.app.state.services
    return getter()


def client_address(request: Request, services: Services) -> str:
    """The connection's address or, behind a trusted proxy, the last X-Forwarded-For hop
    (the one the proxy appended), as the login throttle reads it."""
    if services.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:128]
    return request.client.host[:128] if request.client else "local"


# Declared so the OpenAPI docs offer "Authorize"; missing or malformed credentials are
# refused by the key check below, with the API's own 401.
bearer = HTTPBearer(auto_error=False, description="An API key from the Account page")


def current_account(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Account:
    """The key's account, or Unauthorized (401). The request goes in the audit log."""
    return services.api_keys.authenticate(
        key=credentials.credentials if credentials is not None else None,
        request=f"{request.method} {request.url.path}",
        client=client_address(request, services),
    )


ServicesDep = Annotated[Services, Depends(get_services)]
AccountDep = Annotated[Account, Depends(current_account)]
