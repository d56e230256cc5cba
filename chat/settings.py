"""One typed settings object for the whole app.

Values come from the environment first, then `.streamlit/secrets.toml`, then defaults.
Nothing reads settings at import time: call `get_settings()` (cached) where they are needed,
so tests and the CLI can point the app elsewhere before the first read.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
import threading
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from chat.errors import ConfigurationError
from chat.strength import weak_secret_reason

# The built-in offline demo model's name (chat/llm/offline.py), among the model names.
OFFLINE = "offline"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
COOKIE_KEY_FILE = "cookie_key"
MIN_COOKIE_KEY_LENGTH = 32
MIN_INVITE_CODE_LENGTH = 16
_COOKIE_KEY_LOCK = threading.Lock()


class Settings(BaseSettings):
    """Every knob of the app. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    app_env: Literal["development", "production"] = "development"
    data_dir: Path = PROJECT_ROOT / "data"

    # Storage: no DATABASE_URL means an embedded PostgreSQL under data_dir.
    database_url: str | None = None
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    db_pool_timeout: float = Field(default=10.0, gt=0)

    # Model: the names the OpenAI SDK itself reads. No key means the offline model.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    # Comma-separated in the environment (MODELS=gpt-4o-mini,gpt-4o), a list in TOML.
    models: Annotated[list[str], NoDecode] = ["gpt-4o-mini"]
    model_timeout: float = Field(default=60.0, gt=0)
    model_max_retries: int = Field(default=2, ge=0)
    offline_token_delay: float = Field(default=0.02, ge=0)

    # Auth.
    cookie_name: str = "chat_auth"
    cookie_key: SecretStr | None = None
    cookie_expiry_days: float = Field(default=30.0, gt=0)
    # Registration policy at first start; an admin can change it on the admin page. Unset:
    # "open" for a local run, "closed" with APP_ENV=production.
    registration: Literal["open", "invite", "closed"] = "open"
    # Self-registrations (and refused invite codes) per client address and hour.
    registrations_per_client_per_hour: int = Field(default=5, ge=1)
    # An invite code accepted when the policy is "invite" (admins can also generate one).
    invite_code: SecretStr | None = None
    # ASVS 5 6.2: at least 8 (12 recommended); no composition rules; common ones refused.
    password_min_chars: int = Field(default=8, ge=8, le=64)
    bcrypt_rounds: int = Field(default=12, ge=10, le=16)
    # Throttling (chat/auth/throttle.py): failed logins in a sliding window, per account
    # from one client, per client, and an account-wide backstop. Blocks end by themselves.
    login_window_seconds: int = Field(default=900, ge=1)
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_client: int = Field(default=20, ge=1)
    login_failures_account_backstop: int = Field(default=50, ge=1)
    # Reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For
    # entries are believed (chat/web/clients.py); none: the connection's peer is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # Replaced by TRUSTED_PROXIES; set, it stops the start with a sentence saying so.
    trust_forwarded_for: bool | None = None
    # Session lifetimes: idle (no activity anywhere) and absolute (since the login).
    session_idle_minutes: float = Field(default=7 * 24 * 60, gt=0)
    session_max_hours: float = Field(default=30 * 24, gt=0)
    # Admin-issued one-time password-reset codes expire after this long.
    reset_code_minutes: int = Field(default=24 * 60, ge=5)
    # First admin, created on first start when the users table is empty.
    initial_admin_username: str | None = None
    initial_admin_email: str | None = None
    initial_admin_password: SecretStr | None = None

    # Chat.
    max_message_chars: int = Field(default=20_000, ge=1)
    # How long "Undo" is offered after deleting a conversation in the page (it is deleted
    # when the time is up; a process stopped before then leaves it in place).
    undo_delete_seconds: float = Field(default=8.0, ge=0)
    # Per-user limits; 0 switches a limit off. The quota counts stored tokens since 00:00 UTC.
    messages_per_minute: int = Field(default=20, ge=0)
    daily_token_quota: int = Field(default=0, ge=0)
    default_memory_strategy: str = "window"
    default_window_turns: int = Field(default=10, ge=1)
    default_system_prompt: str = "You are a helpful, concise assistant."
    # Memory lab: replays running at once in one process (one per user), and how long one
    # may run before it is stopped.
    lab_max_replays: int = Field(default=2, ge=1)
    lab_time_limit: float = Field(default=300.0, gt=0)
    # Recall's vector similarity: an embeddings model on the OpenAI-compatible endpoint
    # (or EMBEDDINGS_BASE_URL / EMBEDDINGS_API_KEY); unset: full-text search alone.
    embeddings_model: str | None = None
    embeddings_base_url: str | None = None
    embeddings_api_key: SecretStr | None = None
    # Estimated cost in the token economics chart: USD per million [input, output] tokens,
    # per model name (JSON in MODEL_PRICES). A model without a price shows tokens, no cost;
    # the offline model is free.
    model_prices: dict[str, list[float]] = {
        "gpt-4o-mini": [0.15, 0.60],
        "gpt-4o": [2.50, 10.00],
        "gpt-4.1-mini": [0.40, 1.60],
        "gpt-4.1": [2.00, 8.00],
    }
    # The HTTP API under /api (chat/api); false answers every /api request with a 404.
    api_enabled: bool = True

    @field_validator("models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [entry.strip() for entry in value.split(",") if entry.strip()]
        if isinstance(value, list):
            for entry in value:
                try:
                    ipaddress.ip_network(str(entry).strip(), strict=False)
                except ValueError as exc:
                    raise ValueError(
                        f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR range."
                    ) from exc
        return value

    @field_validator("trust_forwarded_for")
    @classmethod
    def _replaced(cls, value: bool | None) -> bool | None:
        if value is not None:
            raise ValueError(
                "TRUST_FORWARDED_FOR is replaced by TRUSTED_PROXIES: list the addresses of "
                "your reverse proxies (e.g. TRUSTED_PROXIES=10.0.0.5), see docs/deployment.md."
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str | None) -> str | None:
        """Accept plain postgres:// URLs and use the psycopg 3 driver for them."""
        if not value:
            return None
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @model_validator(mode="before")
    @classmethod
    def _hosted_registration(cls, data: object) -> object:
        """A hosted instance starts with registration closed unless told otherwise."""
        if isinstance(data, dict) and not data.get("registration"):
            production = str(data.get("app_env", "")).strip().lower() == "production"
            data = {**data, "registration": "closed" if production else "open"}
        return data

    @model_validator(mode="after")
    def _hosted_needs_secrets(self) -> Settings:
        if self.app_env != "production":
            return self
        key = self.cookie_key.get_secret_value() if self.cookie_key else ""
        weak = weak_secret_reason(key, min_guesses_log10=30) if key else "it is not set"
        if len(key) < MIN_COOKIE_KEY_LENGTH or weak:
            raise ValueError(
                "APP_ENV=production needs COOKIE_KEY set to a random secret of at least "
                f"{MIN_COOKIE_KEY_LENGTH} characters"
                + (f" ({weak})" if len(key) >= MIN_COOKIE_KEY_LENGTH else "")
                + ' (e.g. `python -c "import secrets; print(secrets.token_urlsafe(48))"`).'
            )
        if not self.database_url:
            raise ValueError("APP_ENV=production needs DATABASE_URL (a managed PostgreSQL).")
        invite = self.invite_code.get_secret_value() if self.invite_code else None
        weak_invite = invite and weak_secret_reason(invite, min_guesses_log10=12)
        if invite is not None and (len(invite) < MIN_INVITE_CODE_LENGTH or weak_invite):
            raise ValueError(
                f"INVITE_CODE must be at least {MIN_INVITE_CODE_LENGTH} random characters "
                "on a hosted instance"
                + (f" ({weak_invite})" if weak_invite else "")
                + " (or leave it unset and generate one on the admin page)."
            )
        if self.initial_admin_password is not None and not self.initial_admin_username:
            raise ValueError("INITIAL_ADMIN_PASSWORD is set but INITIAL_ADMIN_USERNAME is not.")
        return self

    @property
    def offline(self) -> bool:
        """True when no model endpoint is configured: the built-in offline model answers."""
        return self.openai_api_key is None or not self.openai_api_key.get_secret_value()

    @property
    def model_choices(self) -> list[str]:
        return [OFFLINE] if self.offline else list(self.models)

    def resolved_cookie_key(self) -> str:
        """The cookie signing key; for a local run, generated once and kept in data_dir."""
        if self.cookie_key and self.cookie_key.get_secret_value():
            return self.cookie_key.get_secret_value()
        if self.app_env == "production":  # the validator already refused this
            raise ConfigurationError("COOKIE_KEY is required in production.")
        path = self.data_dir / COOKIE_KEY_FILE
        with _COOKIE_KEY_LOCK:
            if not path.exists():
                # Write a complete file under a private name, then link it into place: a
                # concurrent starter either wins the link or reads the winner's key.
                path.parent.mkdir(parents=True, exist_ok=True)
                draft = path.with_name(f"{COOKIE_KEY_FILE}.{os.getpid()}.tmp")
                fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
                try:
                    os.link(draft, path)
                except FileExistsError:
                    pass
                finally:
                    draft.unlink()
        return path.read_text().strip()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        secrets_file = Path(os.environ.get("CHAT_SECRETS_FILE", SECRETS_FILE))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=secrets_file),
        )


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings; a clear ConfigurationError instead of a traceback."""
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigurationError(f"Invalid configuration: {exc}") from exc
