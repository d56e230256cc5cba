"""Browser-test fixtures: one running app per module, headless Chromium per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.engine import URL

from tests.support.app_server import offline_app
from tests.support.browser import CHROMIUM_ARGS, chromium_path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def app_url(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with offline_app(database_url, tmp_path_factory.mktemp("app-data")) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def make_account(database_url: URL) -> Iterator[object]:
    """Create users for real (committed), through the operators' command line."""
    import subprocess
    import sys
    import uuid

    from tests.support.factories import PASSWORD

    def create(prefix: str = "e2e") -> str:
        username = f"{prefix}-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url.render_as_string(hide_password=False),
            "NEW_PASSWORD": PASSWORD,
        }
        subprocess.run(
            [sys.executable, "-m", "chat", "users", "create", username,
             "--email", f"{username}@example.com", "--password-env", "NEW_PASSWORD"],
            check=True, env=env, capture_output=True, timeout=60,
        )  # fmt: skip
        return username

    yield create
