"""A scratch PostgreSQL database for a bench run, migrated, dropped afterwards.

The server comes from BENCH_DATABASE_URL, else TEST_DATABASE_URL (a superuser URL)."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.settings import Settings
from chat.storage.db import migrate


@contextlib.contextmanager
def scratch_engine() -> Iterator[Engine]:
    server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not server:
        raise SystemExit("Set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL URL.")
    url = make_url(server).set(drivername="postgresql+psycopg")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(url.set(database=name), pool_pre_ping=True)  # as the app's
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def endpoint_settings(base_url: str, **changes: object) -> Settings:
    """Settings for a bench run against an OpenAI-compatible endpoint at `base_url` (the
    local test server), with fast password hashing; `changes` override the rest."""
    return Settings(
        database_url="postgresql://unused",  # benches hand the services their own engine
        openai_api_key=SecretStr("sk-bench"),
        openai_base_url=base_url,
        models=["test-model"],
        bcrypt_rounds=10,
        cookie_key="b" * 40,
        **changes,  # type: ignore[arg-type]
    )


def app_env(database_url: str, data_dir: str, model_base_url: str) -> dict[str, str]:
    """The environment of a benchmarked app process: the scratch database, the local model
    server, the per-user message limit out of the way, fast password hashing."""
    return {
        "DATABASE_URL": database_url,
        "DATA_DIR": data_dir,
        "CHAT_SECRETS_FILE": str(Path(data_dir) / "no-secrets.toml"),
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": model_base_url,
        "MODELS": "test-model",
        "MESSAGES_PER_MINUTE": "100000",
        "BCRYPT_ROUNDS": "10",
        "COOKIE_KEY": "k" * 48,
    }
