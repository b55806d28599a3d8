"""The throwaway PostgreSQL helper and its pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from botrt.testing import _pgcluster, _pytest_storage
from botrt.testing._postgres import PostgresError, PostgresNotInstalled, PostgresServer


def fake_request() -> Any:
    cleanups: list[Callable[[], None]] = []
    config = SimpleNamespace(stash=pytest.Stash(), add_cleanup=cleanups.append)
    return SimpleNamespace(config=config)


def not_installed(tmp_dir: Path) -> PostgresServer:
    raise PostgresNotInstalled("PostgreSQL is not installed (test)")


def test_missing_postgres_skips_locally(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(_pytest_storage, "start_postgres", not_installed)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        _pytest_storage._server(fake_request(), tmp_path_factory)


def test_missing_postgres_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(_pytest_storage, "start_postgres", not_installed)
    request = fake_request()
    for _ in range(2):  # the failure is remembered, not retried, for the next test
        with pytest.raises(pytest.fail.Exception, match="CI=true"):
            _pytest_storage._server(request, tmp_path_factory)


def test_broken_postgres_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    def broken(tmp_dir: Path) -> PostgresServer:
        raise PostgresError("initdb failed (test)")

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(_pytest_storage, "start_postgres", broken)
    with pytest.raises(pytest.fail.Exception, match="initdb failed"):
        _pytest_storage._server(fake_request(), tmp_path_factory)


def test_binaries_not_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_pgcluster, "_DEBIAN_BIN_ROOT", tmp_path / "none")
    with pytest.raises(PostgresNotInstalled, match="apt-get install postgresql"):
        _pgcluster.find_postgres_bin()


def test_databases_are_separate_and_emptied(postgres_server: PostgresServer) -> None:
    first = postgres_server.create_database()
    second = postgres_server.create_database()
    assert first != second
    name = first.rpartition("/")[2]
    postgres_server._psql("CREATE TABLE leftover (id int)", database=name)
    assert postgres_server.empty_database(name) == first
    postgres_server._psql("CREATE TABLE leftover (id int)", database=name)  # gone, so no clash
    postgres_server.drop_database(name)
    with pytest.raises(PostgresError, match="lowercase identifier"):
        postgres_server.create_database("Robert'); DROP TABLE students;--")
