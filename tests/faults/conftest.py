"""Fault tests: the model, the database and the app process fail on purpose.

The page fixtures are the e2e ones (imported, so they apply here too); the browser is the
session's one Chromium (tests/conftest.py). A second sync Playwright cannot start while one
is open (each keeps an event loop running on the main thread), so a browser of the faults'
own failed here whenever the e2e tests ran first in the same session. Tests that stop or restart
PostgreSQL use `own_pg`, an embedded server of their own, never the shared one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import make_account, page, pytest_runtest_makereport
from tests.support.own_postgres import OwnPostgres, own_postgres

__all__ = ["make_account", "page", "pytest_runtest_makereport"]


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
