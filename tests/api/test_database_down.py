"""With no database to reach, the API says so in JSON: /api/health is a 503 reporting it,
and a request with a key is a 503 with a sentence, never a traceback."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tests.support.app_server import free_port, offline_env, started_app


def test_health_and_requests_report_the_database_down(tmp_path: Path) -> None:
    nowhere = make_url(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    with started_app(offline_env(nowhere, tmp_path), log_path=tmp_path / "app.log") as app:
        health = httpx.get(f"{app.url}/api/health", timeout=30)
        assert health.status_code == 503
        assert health.json() == {"status": "unavailable", "database": "unavailable"}
        refused = httpx.post(
            f"{app.url}/api/chat",
            json={"message": "hello?"},
            headers={"Authorization": "Bearer chat-whatever"},
            timeout=30,
        )
        assert refused.status_code == 503
        assert "database is not reachable" in refused.json()["error"]["message"]
        assert "Traceback" not in refused.text
