"""The Dockerfile and compose file stay coherent with what the tests exercise.

No Docker engine runs here, so these check the files themselves (hadolint lints the
Dockerfile in scripts/test).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

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


def test_compose_has_postgres_with_healthcheck_and_no_default_secrets() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    postgres, app = services["postgres"], services["app"]
    assert "healthcheck" in postgres and postgres["volumes"]
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = app["environment"]
    assert env["APP_ENV"] == "production"
    assert re.fullmatch(r"\$\{COOKIE_KEY:\?[^}]+\}", env["COOKIE_KEY"]), env["COOKIE_KEY"]
    assert ":?" in postgres["environment"]["POSTGRES_PASSWORD"]
