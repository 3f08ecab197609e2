"""Session-wide fixtures: one real SeaweedFS store and one Prefect test server for the whole run."""

from __future__ import annotations

import os

import pytest

from tests.access_fixtures import request_service, web_service  # noqa: F401  (running services with people)
from tests.db_fixtures import database, db_url, postgres  # noqa: F401  (SQLite and PostgreSQL databases)
from tests.store_fixtures import embedded_store, object_store  # noqa: F401  (session fixtures for every module)
from tests.web_helpers import browser  # noqa: F401  (Debian's chromium, for a module)

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
# a flow that pauses for a 卷内目录 review nobody gives fails after this, instead of holding the suite for 30 days
os.environ.setdefault("DOSSIER_REVIEW_TIMEOUT", "600")


MARKER_OF_FIXTURE = {
    "prefect_harness": "slow",  # a Prefect server for the session, flow runs against it
    "browser": "browser",  # Debian's chromium through Playwright
    "postgres": "postgres",  # PostgreSQL 15 for the session (db_url's postgresql case is marked where it is made)
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the costly services its fixtures start (directly or through other fixtures), so that a
    test written tomorrow is marked as well: `make test-fast` leaves out slow, browser, postgres and soak."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marker in MARKER_OF_FIXTURE.items():
            if fixture in used:
                item.add_marker(marker)


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect server (SQLite) for flow tests; started only when a test asks for it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield

# Like the demo, the tests sign with (and trust) the generated development key; the tests of what happens without
# it take the setting away.
os.environ.setdefault("DOSSIER_DEVELOPMENT_KEY", "1")
