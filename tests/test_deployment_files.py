"""The Dockerfile and compose file stay coherent with what the tests exercise.

No Docker engine runs here, so these check the files themselves (hadolint lints the
Dockerfile in scripts/test; tests/e2e/test_replicas.py runs the compose topology's proxy
config with Debian's nginx in front of two app processes).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.app_server import APP_SCRIPT, free_port
from tests.support.proxy import nginx_path, render, upstream_servers

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_are_pinned() -> None:
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r")):
                assert re.match(r"^[A-Za-z0-9_.\[\]-]+==[0-9][^ ]*$", line), f"{name}: {line}"
    core = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^langchain-core==1\.", core, re.M)  # RunnableWithMessageHistory: below 2


def test_dockerfile_runs_the_app_as_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M)
    assert "HEALTHCHECK" in text and "/_stcore/health" in text
    assert "APP_ENV=production" in text
    copied = " ".join(line for line in text.splitlines() if line.startswith("COPY "))
    for needed in (
        "streamlit_app.py",
        " chat ",
        " pages ",
        " migrations ",
        ".streamlit/config.toml",
    ):
        assert needed in copied, needed
    assert text.count("FROM ") >= 2  # multi-stage: no build tools in the final image


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose


def _replicas(services: dict[str, Any]) -> dict[str, Any]:
    """The app services: the ones built from this repository's Dockerfile."""
    return {name: service for name, service in services.items() if service.get("build") == "."}


def test_compose_has_postgres_with_healthcheck_and_no_default_secrets() -> None:
    services = _compose()["services"]
    postgres = services["postgres"]
    assert "healthcheck" in postgres and postgres["volumes"]
    assert ":?" in postgres["environment"]["POSTGRES_PASSWORD"]
    secret = re.compile(r"KEY|PASSWORD|SECRET|TOKEN|DATABASE_URL", re.I)
    for name, service in services.items():
        for variable, value in (service.get("environment") or {}).items():
            if not secret.search(variable):
                continue
            # Required (${VAR:?...}) or empty by default (${OPENAI_API_KEY:-}: offline model).
            for default in re.findall(r"\$\{\w+:-([^}]*)\}", str(value)):
                assert default == "", f"{name}.{variable} has a default secret"
            assert "${" in str(value), f"{name}.{variable} is written into the compose file"


def test_compose_runs_two_identical_replicas_with_one_cookie_key() -> None:
    services = _compose()["services"]
    replicas = _replicas(services)
    assert len(replicas) == 2, sorted(replicas)
    first, second = replicas.values()
    assert first["environment"] == second["environment"]  # same secrets, same settings
    env = first["environment"]
    assert env["APP_ENV"] == "production"
    assert re.fullmatch(r"\$\{COOKIE_KEY:\?[^}]+\}", env["COOKIE_KEY"]), env["COOKIE_KEY"]
    assert "@postgres:5432/" in env["DATABASE_URL"]
    # Behind nginx, at its fixed address: only its X-Forwarded-For entries are believed.
    proxy = _compose()["services"]["proxy"]
    assert env["TRUSTED_PROXIES"].endswith(proxy["networks"]["default"]["ipv4_address"] + "}")
    assert "TRUST_FORWARDED_FOR" not in env
    for service in replicas.values():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "ports" not in service  # reached through the proxy only


def test_proxy_routes_to_the_replicas_with_stickiness_and_websocket_upgrade() -> None:
    services = _compose()["services"]
    replicas = _replicas(services)
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:") and proxy["image"] != "nginx:latest"
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert set(proxy["depends_on"]) == set(replicas)
    assert proxy["ports"]

    config = (ROOT / "deploy" / "nginx.conf").read_text()
    port = re.search(r"^EXPOSE (\d+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert port is not None
    assert sorted(upstream_servers(config)) == [(name, int(port[1])) for name in sorted(replicas)]
    # Sticky: hash on the routing cookie (or the client address); never round robin.
    assert re.search(r"^\s*hash \$chat_route consistent;", config, re.M)
    assert re.search(r"map \$cookie_chat_route \$chat_route", config)  # key from the cookie
    assert "$request_id" in config and 'Set-Cookie "chat_route=$chat_route' in config
    # Websocket upgrade for /_stcore/stream, and long-lived connections.
    assert re.search(r"map \$http_upgrade \$connection_upgrade", config)
    for directive in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    ):
        assert directive in config, directive
    timeout = re.search(r"proxy_read_timeout (\d+)([smhd]?);", config)
    assert timeout is not None
    seconds = int(timeout[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[timeout[2]]
    assert seconds >= 3600
    # The image's official entry point passes `daemon off;` and owns pid/user: not repeated.
    assert not re.search(r"^\s*(daemon|pid|user)\s", config, re.M)


def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    """`nginx -t` on the config exactly as the replica test runs it."""
    rendered = render(
        (ROOT / "deploy" / "nginx.conf").read_text(),
        replicas=["127.0.0.1:1", "127.0.0.1:2"],
        listen_port=free_port(),
        workdir=tmp_path,
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(rendered)
    result = subprocess.run(
        [nginx_path(), "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
         "-c", str(conf), "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_nginx_sends_the_apps_security_headers() -> None:
    from chat.web.headers import CONTENT_SECURITY_POLICY

    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    policy = CONTENT_SECURITY_POLICY.replace("'none'", "$frame_ancestors")
    policy = policy.replace("object-src $frame_ancestors", "object-src 'none'")
    assert f'add_header Content-Security-Policy "{policy}" always;' in conf
    for name in ("X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security"):
        assert f"add_header {name} " in conf


def test_every_launcher_starts_the_st_app() -> None:
    assert "streamlit run asgi.py" in (ROOT / "scripts" / "app").read_text()
    assert '"run", "asgi.py"' in (ROOT / "Dockerfile").read_text()
    assert APP_SCRIPT == "asgi.py"  # the benchmarks' floor page passes another script
    test_launcher = (ROOT / "tests" / "support" / "app_server.py").read_text()
    assert '"run", script,' in test_launcher
    assert test_launcher.count("script: str = APP_SCRIPT") == 2


def test_scripts_app_listens_on_this_machine_unless_told_otherwise() -> None:
    text = (ROOT / "scripts" / "app").read_text()
    assert 'STREAMLIT_SERVER_ADDRESS="${STREAMLIT_SERVER_ADDRESS:-127.0.0.1}"' in text
    assert 'FORWARDED_ALLOW_IPS=""' in text
