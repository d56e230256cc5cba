"""Run the real app (`streamlit run asgi.py`) as a subprocess for browser and benchmark runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy.engine import URL

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP_SCRIPT = "asgi.py"  # the st.App entry point, as scripts/app and the Dockerfile run it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(
    process: subprocess.Popen[bytes], base: str, *, timeout: float, what: str, see: str
) -> None:
    """Poll `base`/_stcore/health until it answers 200; fail loudly if the process exits
    or the deadline passes (`see` names the log to read)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early; see {see}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become healthy; see {see}")
        time.sleep(0.2)


def start_app_process(
    port: int, env: dict[str, str], log: IO[bytes], script: str = APP_SCRIPT
) -> subprocess.Popen[bytes]:
    """`streamlit run asgi.py` (or another `script`) on 127.0.0.1:`port`, `env` added to the
    environment, its output to `log`; returned at once (bench/first_page.py times its start
    from here)."""
    command = [
        sys.executable, "-m", "streamlit", "run", script,
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    full_env = {**os.environ, "FORWARDED_ALLOW_IPS": "", **env, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
    )


@dataclass(frozen=True)
class RunningApp:
    url: str
    process: subprocess.Popen[bytes]  # fault tests kill it (SIGKILL) and start another
    log_path: Path


@contextmanager
def started_app(
    env: dict[str, str], *, log_path: Path, timeout: float = 60.0, script: str = APP_SCRIPT
) -> Iterator[RunningApp]:
    """Start the app (or another Streamlit `script`) with `env` added to the environment;
    yield it once healthy. It is stopped on exit unless it has already ended (a test may
    have killed it)."""
    port = free_port()
    with open(log_path, "ab") as log:
        process = start_app_process(port, env, log, script)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(process, base, timeout=timeout, what="app", see=str(log_path))
            yield RunningApp(url=base, process=process, log_path=log_path)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


@contextmanager
def running_app(env: dict[str, str], *, log_path: Path, timeout: float = 60.0) -> Iterator[str]:
    """Start the app with `env` added to the environment; yield its base URL."""
    with started_app(env, log_path=log_path, timeout=timeout) as app:
        yield app.url


def offline_env(
    database_url: URL,
    data_dir: Path,
    *,
    token_delay: float = 0.01,
    extra_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of an app on `database_url` with the offline model; `extra_env` adds
    settings (e.g. the registration policy)."""
    return {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "DATA_DIR": str(data_dir),
        "OFFLINE_TOKEN_DELAY": str(token_delay),
        "BCRYPT_ROUNDS": "10",
        # Every browser here is one client (127.0.0.1); the limit has its own tests.
        "REGISTRATIONS_PER_CLIENT_PER_HOUR": "1000",
        "OPENAI_API_KEY": "",
        "CHAT_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        **(extra_env or {}),
    }


@contextmanager
def offline_app(
    database_url: URL,
    data_dir: Path,
    *,
    token_delay: float = 0.01,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """The real app on the session's database, offline model at `token_delay` per word."""
    env = offline_env(database_url, data_dir, token_delay=token_delay, extra_env=extra_env)
    with running_app(env, log_path=data_dir / "app.log") as url:
        yield url
