"""A throwaway PostgreSQL server for tests: `initdb` + `pg_ctl` in a temporary folder.

The server listens on a free loopback port (and a unix socket in its own folder),
trusts every local connection, and is stopped and deleted by `PostgresServer.stop`.
It is built for speed, not safety: it runs with ``fsync=off``, so it must never
hold data anyone wants to keep. The cluster's own tools are run by `_pgcluster.py`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from botrt.testing._pgcluster import (
    SUPERUSER,
    PostgresError,
    PostgresNotInstalled,
    cluster_dir,
    find_postgres_bin,
    init_cluster,
    run_tool,
    server_user,
    start_server,
    stop_command,
)

__all__ = ["PostgresError", "PostgresNotInstalled", "PostgresServer", "start_postgres"]

_WATCHDOG = """
import shutil, subprocess, sys
sys.stdin.buffer.read()
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if sys.argv[1]:
    shutil.rmtree(sys.argv[1], ignore_errors=True)
"""
"""Stops the server once its stdin closes: when the test process exits, even killed.

`PostgresServer.stop` kills it first and stops the server itself, reporting errors.
"""


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL server; `stop` shuts it down and deletes its files.

    Attributes:
        host: the loopback address it listens on.
        port: its TCP port.
        user: the trusted superuser to connect as (no password).
        data_dir: the cluster's data directory.
        log_file: the server's log, quoted in errors.
    """

    host: str
    port: int
    user: str
    data_dir: Path
    log_file: Path
    _bin_dir: Path = field(repr=False)
    _run_as: tuple[str, ...] = field(repr=False)
    _owned_dir: Path | None = field(default=None, repr=False)
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    def url(self, database: str = "postgres") -> str:
        """The URL of `database` on this server (plain ``postgresql://``). Raises nothing."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a fresh unique name by default) and return its URL.

        It takes a few hundred milliseconds (PostgreSQL copies a template database);
        `empty_database` is much faster for reusing one database test after test.

        :raises PostgresError: if the name is not a plain identifier, the server is
            stopped, or ``CREATE DATABASE`` fails.
        """
        name = _check_name(name or f"t_{uuid.uuid4().hex[:16]}")
        self._psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def empty_database(self, name: str) -> str:
        """Drop everything in database `name` (its ``public`` schema) and return its URL.

        Waits at most two seconds for locks, so a connection left inside a transaction
        makes it fail rather than hang.

        :raises PostgresError: if the name is not a plain identifier, the database does
            not exist, a lock is held too long, or the server is stopped.
        """
        _check_name(name)
        self._psql(
            "SET lock_timeout = '2s'; DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
            database=name,
        )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop `name`, disconnecting whoever still uses it; no error if it does not exist.

        :raises PostgresError: if the name is not a plain identifier, the server is
            stopped, or ``DROP DATABASE`` fails.
        """
        self._psql(f"DROP DATABASE IF EXISTS {_check_name(name)} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server and delete the files it made; calling it again does nothing.

        :raises PostgresError: if `pg_ctl stop` fails (the files are deleted anyway).
        """
        if self._stopped:
            return
        self._stopped = True
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
        try:
            run_tool(
                stop_command(self._bin_dir, self._run_as, self.data_dir),
                what="pg_ctl stop",
                cwd=self.data_dir.parent,
            )
        finally:
            if self._owned_dir is not None:
                shutil.rmtree(self._owned_dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _psql(self, sql: str, *, database: str = "postgres") -> None:
        if self._stopped:
            raise PostgresError("the throwaway PostgreSQL server is stopped")
        psql = self._bin_dir / "psql"
        if not psql.exists():
            psql = Path(shutil.which("psql") or "psql")
        run_tool(
            [
                str(psql),
                *("-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port)),
                *("-U", self.user, "-d", database, "-c", sql),
            ],
            what=f"psql -c {sql!r}",
            cwd=self.data_dir.parent,
        )


def start_postgres(tmp_dir: Path, *, timeout: float = 30.0) -> PostgresServer:
    """Create a cluster under `tmp_dir`, start it on a free loopback port, and return it.

    When running as root, the server runs as the ``postgres`` OS user (PostgreSQL
    refuses root); if that user cannot reach `tmp_dir` (pytest's temporary folders
    are private to root), the cluster goes to a fresh folder in the system temporary
    directory instead, which `PostgresServer.stop` deletes.

    :raises PostgresNotInstalled: if PostgreSQL's server binaries are not installed.
    :raises PostgresError: if running as root and there is no ``postgres`` OS user, or
        `initdb` or `pg_ctl start` fails (the message quotes the server log).
    """
    bin_dir = find_postgres_bin()
    run_as, owner = server_user()
    base, owned_dir = cluster_dir(tmp_dir, owner)
    data_dir = base / "data"
    log_file = base / "server.log"
    try:
        init_cluster(bin_dir, run_as, owner, base)
        port = start_server(bin_dir, run_as, data_dir, log_file, timeout)
        watchdog = _start_watchdog(bin_dir, run_as, data_dir, owned_dir)
    except BaseException:
        if owned_dir is not None:
            shutil.rmtree(owned_dir, ignore_errors=True)
        raise
    return PostgresServer(
        host="127.0.0.1",
        port=port,
        user=SUPERUSER,
        data_dir=data_dir,
        log_file=log_file,
        _bin_dir=bin_dir,
        _run_as=run_as,
        _owned_dir=owned_dir,
        _watchdog=watchdog,
    )


def _start_watchdog(
    bin_dir: Path, run_as: tuple[str, ...], data_dir: Path, owned_dir: Path | None
) -> subprocess.Popen[bytes]:
    """A process that stops the server (and deletes `owned_dir`) if this one dies first."""
    # A new session, so that Ctrl-C in the terminal does not stop the watchdog
    # before it stops the server.
    return subprocess.Popen(
        [
            sys.executable,
            *("-c", _WATCHDOG, str(owned_dir or "")),
            *stop_command(bin_dir, run_as, data_dir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _check_name(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise PostgresError(f"database name {name!r} must be a lowercase identifier")
    return name
