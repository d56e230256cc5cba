"""The repository's nginx configuration (deploy/nginx.conf), run by Debian's nginx.

The test topology mirrors docker-compose.yml without Docker: the config is rendered with the
replicas' local addresses in place of `app1:8501`/`app2:8501` and a free local port in place
of `listen 80`; everything else (stickiness, websocket upgrade) is the repository's own text.
Two test-only additions: temp/log paths under the test's directory, and an `X-Upstream`
response header and access log naming the replica that served each request.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.app_server import PROJECT_ROOT, free_port, wait_healthy

NGINX_CONF = PROJECT_ROOT / "deploy" / "nginx.conf"
UPSTREAM_SERVER = re.compile(r"^(\s*server\s+)(\S+):(\d+)(.*;)$", re.M)
LISTEN = re.compile(r"^(\s*)listen\s+80;$", re.M)


def nginx_path() -> str:
    """Debian's nginx; a missing one is an error, never a skip."""
    path = os.environ.get("NGINX_PATH") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(path):
        raise RuntimeError(
            "The replica test needs Debian's nginx at /usr/sbin/nginx "
            "(apt-get install nginx; scripts/test installs it when run as root)."
        )
    return path


def upstream_servers(config: str) -> list[tuple[str, int]]:
    """The (host, port) of every `server` line in the config's upstream block."""
    block = re.search(r"upstream\s+\w+\s*\{(.*?)\}", config, re.S)
    if block is None:
        raise AssertionError("deploy/nginx.conf has no upstream block")
    return [(m.group(2), int(m.group(3))) for m in UPSTREAM_SERVER.finditer(block.group(1))]


def render(config: str, *, replicas: list[str], listen_port: int, workdir: Path) -> str:
    """The repository's config, pointed at local replicas and a local port."""
    servers = upstream_servers(config)
    if len(servers) != len(replicas):
        raise AssertionError(f"deploy/nginx.conf upstream has {servers}, test runs {replicas}")
    addresses = iter(replicas)
    rendered = UPSTREAM_SERVER.sub(
        lambda m: f"{m.group(1)}{next(addresses)}{m.group(4)}", config, count=len(replicas)
    )
    rendered, listens = LISTEN.subn(rf"\1listen 127.0.0.1:{listen_port};", rendered)
    if listens != 1:
        raise AssertionError("deploy/nginx.conf must have exactly one `listen 80;`")
    local = "\n".join(
        [
            f"    client_body_temp_path {workdir}/body;",
            f"    proxy_temp_path {workdir}/proxy;",
            f"    fastcgi_temp_path {workdir}/fastcgi;",
            f"    uwsgi_temp_path {workdir}/uwsgi;",
            f"    scgi_temp_path {workdir}/scgi;",
            '    log_format upstreams "$request_uri $status $upstream_addr";',
            f"    access_log {workdir}/access.log upstreams;",
            "    add_header X-Upstream $upstream_addr always;",
        ]
    )
    rendered, blocks = re.subn(r"^http\s*\{$", "http {\n" + local, rendered, count=1, flags=re.M)
    if blocks != 1:
        raise AssertionError("deploy/nginx.conf has no `http {` block")
    # add_header is inherited only by levels that have none: repeat it where the config has its own.
    return re.sub(
        r"^(\s*)(add_header Set-Cookie .*;)$",
        r"\1\2\n\1add_header X-Upstream $upstream_addr always;",
        rendered,
        flags=re.M,
    )


@contextmanager
def running_proxy(replicas: list[str], *, workdir: Path, timeout: float = 15.0) -> Iterator[str]:
    """Run nginx in the foreground with the rendered config; yield its base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(
        render(NGINX_CONF.read_text(), replicas=replicas, listen_port=port, workdir=workdir)
    )
    directives = f"daemon off; pid {workdir}/nginx.pid;"
    if os.geteuid() == 0:  # workers would drop to `nobody`, who cannot enter tmp_path
        directives += " user root;"
    command = [nginx_path(), "-p", str(workdir), "-e", str(workdir / "error.log")]
    command += ["-c", str(conf), "-g", directives]
    base = f"http://127.0.0.1:{port}"
    with open(workdir / "nginx.out", "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_healthy(process, base, timeout=timeout, what="nginx", see=f"{workdir}/error.log")
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def served_by(base: str, route: str | None = None, path: str = "/_stcore/health") -> str:
    """Which replica (host:port) nginx sent a request to, with this routing cookie."""
    request = urllib.request.Request(base + path)
    if route is not None:
        request.add_header("Cookie", f"chat_route={route}")
    with urllib.request.urlopen(request, timeout=5) as answer:
        return str(answer.headers["X-Upstream"])
