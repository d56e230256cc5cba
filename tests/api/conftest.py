"""API tests: the real app (`streamlit run asgi.py`) on the session's database, answered
by the local OpenAI-compatible server through the real ChatOpenAI, and driven by real
clients (the official `openai` package, httpx). Users and keys are made through the app's
own services on the same database (committed; every test uses fresh names)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from sqlalchemy.engine import URL

from chat.services import Services, build_services
from chat.settings import Settings
from tests.support.app_server import RunningApp, offline_env, started_app
from tests.support.factories import make_user
from tests.support.openai_server import FakeOpenAIServer

MODEL = "test-model"
PER_MINUTE = 6  # the app's limit: low enough for a test to reach it


@dataclass(frozen=True)
class ApiUser:
    username: str
    user_id: uuid.UUID
    key: str


@pytest.fixture(scope="module")
def model_server() -> Iterator[FakeOpenAIServer]:
    """The model the app talks to, for every test of the module (its queue is per test)."""
    with FakeOpenAIServer(api_key="sk-test", default_token_delay=0.002) as server:
        yield server


@pytest.fixture(scope="module")
def api_app(
    database_url: URL, tmp_path_factory: pytest.TempPathFactory, model_server: FakeOpenAIServer
) -> Iterator[RunningApp]:
    data_dir = tmp_path_factory.mktemp("api-app")
    env = offline_env(
        database_url,
        data_dir,
        extra_env={
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": model_server.base_url,
            "MODELS": MODEL,
            "MODEL_MAX_RETRIES": "0",
            "MODEL_TIMEOUT": "10",
            "MESSAGES_PER_MINUTE": str(PER_MINUTE),
        },
    )
    with started_app(env, log_path=data_dir / "app.log") as app:
        yield app


@pytest.fixture(scope="module")
def db_services(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The app's services on the session's database, as the command line builds them."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("api-services"),
        database_url=database_url.render_as_string(hide_password=False),
        openai_api_key=None,
        bcrypt_rounds=10,
        cookie_key="k" * 48,
    )
    built = build_services(settings)
    yield built
    built.close()


@pytest.fixture
def new_user(db_services: Services) -> Callable[[], ApiUser]:
    def make() -> ApiUser:
        account = make_user(db_services)
        key = db_services.api_keys.create(user_id=account.id, name="tests").key
        return ApiUser(username=account.username, user_id=account.id, key=key)

    return make


@pytest.fixture
def user(new_user: Callable[[], ApiUser]) -> ApiUser:
    return new_user()


@pytest.fixture
def base_url(api_app: RunningApp) -> str:
    return f"{api_app.url}/api"


@pytest.fixture
def client(base_url: str, user: ApiUser) -> OpenAI:
    """The official client, unchanged, pointed at the app."""
    return OpenAI(base_url=f"{base_url}/v1", api_key=user.key, max_retries=0, timeout=30)


@pytest.fixture
def http(base_url: str, user: ApiUser) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {user.key}"}, timeout=30
    ) as session:
        yield session


@pytest.fixture(autouse=True)
def fresh_queue(model_server: FakeOpenAIServer) -> Iterator[None]:
    """Each test scripts its own replies; what one left unused must not answer the next."""
    yield
    model_server.clear_queue()


def app_log(app: RunningApp) -> str:
    return Path(app.log_path).read_text(errors="replace")
