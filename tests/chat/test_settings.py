"""Settings: defaults for a laptop, refusals for a hosted instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat.errors import ConfigurationError
from chat.settings import Settings, get_settings

RANDOM_KEY = "Yq3vN8rT0bLw5ZkP2sXe7HcJ9uMa4DfG6iRo1Qn"


def make(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_local_run_generates_and_keeps_a_cookie_key(tmp_path: Path) -> None:
    first = make(tmp_path).resolved_cookie_key()
    assert len(first) >= 32
    assert make(tmp_path).resolved_cookie_key() == first  # kept in the data directory
    assert (tmp_path / "cookie_key").stat().st_mode & 0o777 == 0o600


def test_production_refuses_to_start_without_a_cookie_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/chat")
    monkeypatch.delenv("COOKIE_KEY", raising=False)
    monkeypatch.setenv("CHAT_SECRETS_FILE", str(tmp_path / "none.toml"))
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="COOKIE_KEY"):
            get_settings()
        monkeypatch.setenv("COOKIE_KEY", "short")
        get_settings.cache_clear()
        with pytest.raises(ConfigurationError, match="at least 32"):
            get_settings()
        monkeypatch.setenv("COOKIE_KEY", "x" * 40)
        get_settings.cache_clear()
        with pytest.raises(ConfigurationError, match="repeated characters"):
            get_settings()
        monkeypatch.setenv("COOKIE_KEY", RANDOM_KEY)
        get_settings.cache_clear()
        assert get_settings().app_env == "production"
    finally:
        get_settings.cache_clear()


def test_production_needs_a_database_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        make(
            tmp_path,
            app_env="production",
            cookie_key="Yq3vN8rT0bLw5ZkP2sXe7HcJ9uMa4DfG6iRo1Qn",
            database_url=None,
        )


def test_environment_names_match_the_openai_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("MODELS", "model-a, model-b")
    settings = Settings()
    assert not settings.offline
    assert settings.model_choices == ["model-a", "model-b"]
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"


def test_no_key_means_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert make(tmp_path).offline
    assert make(tmp_path).model_choices == ["offline"]


def test_secrets_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('registration = "closed"\nmodels = ["from-toml"]\n')
    monkeypatch.setenv("CHAT_SECRETS_FILE", str(secrets))
    monkeypatch.delenv("MODELS", raising=False)
    monkeypatch.delenv("REGISTRATION", raising=False)
    settings = Settings()
    assert settings.registration == "closed"
    assert settings.models == ["from-toml"]
