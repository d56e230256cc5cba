"""Who is connecting: the client address, taken from X-Forwarded-For only through proxies
listed in TRUSTED_PROXIES.

Throttling keys on this address, so it must be one an attacker cannot choose. Walking from
the connection's peer leftwards through X-Forwarded-For, every hop that is a listed proxy
is skipped; the first one that is not is the client. With no proxy listed the peer is the
client and the header is ignored.

Streamlit's server (uvicorn) rewrites the peer from X-Forwarded-For on its own when the
connection comes from FORWARDED_ALLOW_IPS (127.0.0.1 by default), before this middleware
runs. The launchers set FORWARDED_ALLOW_IPS empty; should it be left at a default anyway,
a peer that equals uvicorn's own pick from the header is taken for what it really was, a
connection from one of uvicorn's trusted hosts, so the header still cannot decide.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UVICORN_DEFAULT_TRUST = "127.0.0.1,::1"


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR ranges; raises ValueError on anything else."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = value.strip()
    if host.startswith("[") and "]" in host:  # [v6]:port
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:  # v4:port
        host = host.split(":", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _listed(host: str | None, networks: tuple[Network, ...]) -> bool:
    address = _address(host) if host else None
    return address is not None and any(address in network for network in networks)


def forwarded_hops(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    values = [value.decode("latin-1") for name, value in headers if name == b"x-forwarded-for"]
    return [hop.strip() for hop in ",".join(values).split(",") if hop.strip()]


def resolve_client(peer: str | None, hops: list[str], trusted: tuple[Network, ...]) -> str | None:
    """The first address, from the peer leftwards through the hops, that is not a listed
    proxy (the leftmost hop when all are)."""
    client = peer
    remaining = list(hops)
    while _listed(client, trusted) and remaining:
        client = remaining.pop()
    address = _address(client) if client else None
    return str(address) if address is not None else client


@dataclass(frozen=True)
class _UvicornTrust:
    """What uvicorn's proxy-headers step trusts in this process (it reads the same variable)."""

    everyone: bool
    networks: tuple[Network, ...]

    @classmethod
    def from_environment(cls) -> _UvicornTrust:
        raw = os.environ.get("FORWARDED_ALLOW_IPS", UVICORN_DEFAULT_TRUST)
        entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
        if "*" in entries:
            return cls(True, ())
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue
        return cls(False, tuple(networks))

    def pick(self, hops: list[str]) -> str | None:
        """uvicorn's own choice from the header: the rightmost hop it does not trust."""
        for hop in reversed(hops):
            if not _listed(hop, self.networks):
                return hop
        return hops[0] if hops else None


class ClientAddress:
    """Pure ASGI middleware: sets the scope's client (what st.context.ip_address reports)
    to the resolved client, and the scheme to the listed proxy's X-Forwarded-Proto."""

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted = trusted_proxies
        self.uvicorn = _UvicornTrust.from_environment()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = scope.get("headers") or []
            hops = forwarded_hops(headers)
            client = scope.get("client")
            peer = client[0] if client else None
            if hops and (self.uvicorn.everyone or self.uvicorn.networks):
                peer = self._undo_uvicorn(peer, hops)
            if peer is not None and _listed(peer, self.trusted):
                scheme = _forwarded_proto(headers)
                if scheme:
                    https = scheme == "https"
                    if scope["type"] == "websocket":
                        scope["scheme"] = "wss" if https else "ws"
                    else:
                        scope["scheme"] = "https" if https else "http"
            resolved = resolve_client(peer, hops, self.trusted)
            scope["client"] = (resolved or "", client[1] if client else 0)
        await self.app(scope, receive, send)

    def _undo_uvicorn(self, peer: str | None, hops: list[str]) -> str | None:
        if self.uvicorn.everyone:
            return "unverified-forwarded"  # uvicorn trusts any peer: nothing is knowable
        if peer is None or peer != self.uvicorn.pick(hops):
            return peer
        # uvicorn took this from the header: the connection came from one of its trusted
        # hosts (loopback by default), which one is lost. One of them listed as a proxy is
        # taken to be it (only those hosts could have sent it); else the header is ignored.
        addresses = [str(network.network_address) for network in self.uvicorn.networks]
        listed = [address for address in addresses if _listed(address, self.trusted)]
        return (listed or addresses)[0]


def _forwarded_proto(headers: Iterable[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-forwarded-proto":
            return value.decode("latin-1").split(",")[-1].strip().lower()
    return ""
