"""Browser-test fixtures: one running app per module, headless Chromium per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy.engine import URL

from tests.support.app_server import offline_app
from tests.support.artifacts import folder_for, save_open_pages


@pytest.fixture(scope="module")
def app_url(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with offline_app(database_url, tmp_path_factory.mktemp("app-data")) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def close_contexts_left_open(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that fails before closing the contexts it opened would leave their app
    sessions running into the next test: close them after the failure was captured."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser: Browser = request.getfixturevalue("browser")
    before = set(browser.contexts)
    yield
    for context in browser.contexts:
        if context not in before:
            context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """When a browser test fails, keep every open page (screenshot, URL, HTML) in
    test-artifacts/<test name>/ before the fixtures close them."""
    report = yield
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.when == "call" and report.failed and isinstance(browser, Browser):
        folder = folder_for(item.name)
        try:
            saved = save_open_pages(browser, folder)
        except Exception as exc:  # reported in the test report; the failure itself comes first
            note = f"could not save the pages: {exc!r}"
        else:
            note = f"{len(saved)} files in {folder}"
        report.sections.append(("browser artifacts", note))
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
