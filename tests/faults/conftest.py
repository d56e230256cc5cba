"""Fault tests: the model, the database and the app process fail on purpose.

The page fixtures are the e2e ones (imported, so they apply here too), with a browser per
module: sync Playwright keeps an event loop running on the main thread while it is open,
which would break asyncio tests run after these in the same session. Tests that stop or
restart PostgreSQL use `own_pg`, an embedded server of their own, never the shared one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.conftest import make_account, page, pytest_runtest_makereport
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.own_postgres import OwnPostgres, own_postgres

__all__ = ["make_account", "page", "pytest_runtest_makereport"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def own_pg_server() -> Iterator[OwnPostgres]:
    with own_postgres() as server:
        yield server


@pytest.fixture
def own_pg(own_pg_server: OwnPostgres) -> Iterator[OwnPostgres]:
    """The fault tests' own PostgreSQL, running at the start and at the end of each test."""
    own_pg_server.ensure_running()
    yield own_pg_server
    own_pg_server.ensure_running()
