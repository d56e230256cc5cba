"""Ctrl-C on scripts/app stops the app and the embedded PostgreSQL it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.app_server import PROJECT_ROOT, free_port, wait_healthy


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_on_scripts_app_stops_the_embedded_database(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "TEST_DATABASE_URL")
    }
    env.update(
        DATA_DIR=str(tmp_path),
        CHAT_SECRETS_FILE=str(tmp_path / "none.toml"),
        OPENAI_API_KEY="",
        STREAMLIT_SERVER_PORT=str(port),
        STREAMLIT_SERVER_HEADLESS="true",
    )
    log = tmp_path / "app.log"
    with open(log, "wb") as out:
        app = subprocess.Popen(
            ["scripts/app"], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives it
        )  # fmt: skip
    try:
        wait_healthy(app, f"http://127.0.0.1:{port}", timeout=180, what="app", see=str(log))
        # The embedded database starts with the first session; start it as the app does.
        subprocess.run(
            [str(PROJECT_ROOT / ".venv/bin/python"), "-m", "chat", "migrate"],
            cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        pid_file = tmp_path / "pgdata" / "postmaster.pid"
        postgres = int(pid_file.read_text().split()[0])
        assert _alive(postgres)
        os.killpg(app.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        app.wait(timeout=60)
        for _ in range(300):
            if not _alive(postgres):
                break
            time.sleep(0.1)
        assert not _alive(postgres), log.read_text()[-2000:]
    finally:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGKILL)
