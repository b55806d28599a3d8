"""Pytest fixtures that run a test on each storage backend: SQLite and a real PostgreSQL.

Register it once in the root ``conftest.py``::

    pytest_plugins = ["botrt.testing._pytest_storage"]

Fixtures:

- ``postgres_server`` (session): a throwaway PostgreSQL server, started on first use
  (once per xdist worker) and stopped at the end of the session.
- ``postgres_url``: the URL of a fresh, empty database on that server, for one test.
- ``storage_url``: parametrized ``sqlite`` / ``postgresql``: a SQLite file in the test's
  ``tmp_path``, or a fresh PostgreSQL database. SQLite-only runs never start PostgreSQL.

Without PostgreSQL installed, the PostgreSQL variants are skipped with the reason;
when the environment variable ``CI`` is ``true`` they fail instead, since CI must
exercise both backends (``.ci/postgres.sh`` installs PostgreSQL).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from botrt.testing._postgres import (
    PostgresError,
    PostgresNotInstalled,
    PostgresServer,
    start_postgres,
)

_SERVER = pytest.StashKey[PostgresServer]()
_FAILURE = pytest.StashKey[str]()
_SCRATCH = pytest.StashKey[str]()

BACKENDS = ("sqlite", "postgresql")
"""The values `storage_url` is parametrized over, which are also the test ids."""


def _server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> PostgresServer:
    # Kept in the config's stash, not in the fixture's cache, so the server is shared
    # even when a conftest re-exports these fixtures next to the registered plugin.
    stash = request.config.stash
    server = stash.get(_SERVER, None)
    if server is not None:
        return server
    failure = stash.get(_FAILURE, None)
    if failure is None:
        try:
            server = start_postgres(tmp_path_factory.mktemp("postgres"))
        except PostgresNotInstalled as exc:
            failure = str(exc)
        except PostgresError as exc:
            stash[_FAILURE] = failure = f"the throwaway PostgreSQL server did not start: {exc}"
            pytest.fail(failure, pytrace=False)
        else:
            stash[_SERVER] = server
            request.config.add_cleanup(server.stop)
            return server
        stash[_FAILURE] = failure
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{failure}\nCI=true: the PostgreSQL variants must run, not be skipped", pytrace=False
        )
    pytest.skip(f"PostgreSQL variant skipped: {failure}")


@pytest.fixture(scope="session")
def postgres_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> PostgresServer:
    """The session's throwaway PostgreSQL server.

    Skips the test when PostgreSQL is not installed (fails it when ``CI=true``), and
    fails it when the server does not start.
    """
    return _server(request, tmp_path_factory)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, postgres_server: PostgresServer) -> str:
    """An empty PostgreSQL database for this test (``postgresql://...``).

    Creating a database costs a few hundred milliseconds, so the session reuses one,
    emptied before each test; if something still holds a lock in it (a connection left
    inside a transaction), the test gets a brand-new database instead. Skips or fails
    as `postgres_server` does; fails if no database can be made.
    """
    stash = request.config.stash
    name = stash.get(_SCRATCH, None)
    if name is not None:
        try:
            return postgres_server.empty_database(name)
        except PostgresError:
            pass
    url = postgres_server.create_database()
    stash[_SCRATCH] = url.rpartition("/")[2]
    return url


@pytest.fixture(params=BACKENDS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A storage URL for this test, per backend: a SQLite file, or an empty PostgreSQL database.

    The PostgreSQL variant skips or fails as `postgres_url` does.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'botrt.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
