"""A throwaway PostgreSQL server for tests: `initdb` + `pg_ctl` in a temporary folder.

The server listens on a free loopback port (and a unix socket in its own folder),
trusts every local connection, and is stopped and deleted by `PostgresServer.stop`.
It is built for speed, not safety: it runs with ``fsync=off``, so it must never
hold data anyone wants to keep.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from botrt._errors import BotrtError

_SERVER_USER = "postgres"
"""The OS user the server runs as when we are root (`initdb` refuses to run as root)."""

_SUPERUSER = "postgres"
"""The database superuser `initdb` creates; trusted, so it has no password."""

_MAX_SOCKET_DIR = 90
"""A unix socket path is limited to 107 bytes, and PostgreSQL appends ``/.s.PGSQL.<port>``."""

_PORT_ATTEMPTS = 5

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

_DEBIAN_BIN_ROOT = Path("/usr/lib/postgresql")
"""Where Debian installs each PostgreSQL version's binaries (``<version>/bin``)."""


class PostgresError(BotrtError):
    """Raised when the throwaway PostgreSQL server cannot be set up or used.

    The message quotes the failing command and the tail of its output or of the server log.
    """


class PostgresNotInstalled(PostgresError):
    """Raised when no PostgreSQL server binaries (`pg_ctl`, `initdb`) are on this machine."""


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
            _run(
                _stop_command(self._bin_dir, self._run_as, self.data_dir),
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
        _run(
            [
                str(psql),
                *("-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port)),
                *("-U", self.user, "-d", database, "-c", sql),
            ],
            what=f"psql -c {sql!r}",
            cwd=self.data_dir.parent,
        )


def find_postgres_bin() -> Path:
    """The folder holding `pg_ctl`, `initdb` and `postgres`.

    Looks on ``PATH`` first, then under ``/usr/lib/postgresql/<version>/bin`` (newest
    version first), where Debian puts them without linking them onto ``PATH``.

    :raises PostgresNotInstalled: if neither place has them.
    """
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)
    versions = sorted(
        _DEBIAN_BIN_ROOT.glob("*/bin"),
        key=lambda p: _version_key(p.parent.name),
        reverse=True,
    )
    candidates.extend(versions)
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("pg_ctl", "initdb", "postgres")):
            return folder
    raise PostgresNotInstalled(
        "PostgreSQL is not installed: no pg_ctl/initdb/postgres on PATH or under "
        "/usr/lib/postgresql/*/bin (on Debian: apt-get install postgresql, or run .ci/postgres.sh)"
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
    run_as, owner = _server_user()
    base, owned_dir = _cluster_dir(tmp_dir, owner)
    data_dir = base / "data"
    log_file = base / "server.log"
    try:
        _init_cluster(bin_dir, run_as, owner, base)
        port = _start(bin_dir, run_as, data_dir, log_file, timeout)
        watchdog = _start_watchdog(bin_dir, run_as, data_dir, owned_dir)
    except BaseException:
        if owned_dir is not None:
            shutil.rmtree(owned_dir, ignore_errors=True)
        raise
    return PostgresServer(
        host="127.0.0.1",
        port=port,
        user=_SUPERUSER,
        data_dir=data_dir,
        log_file=log_file,
        _bin_dir=bin_dir,
        _run_as=run_as,
        _owned_dir=owned_dir,
        _watchdog=watchdog,
    )


def _server_user() -> tuple[tuple[str, ...], pwd.struct_passwd | None]:
    """The command prefix that runs the server's tools, and the OS user they run as.

    Both empty unless running as root, which PostgreSQL refuses.
    """
    if os.geteuid() != 0:
        return (), None
    try:
        owner = pwd.getpwnam(_SERVER_USER)
    except KeyError:
        raise PostgresError(
            f"running as root, PostgreSQL must run as another user, and there is no "
            f"{_SERVER_USER!r} OS user (the Debian postgresql package creates it)"
        ) from None
    return ("runuser", "-u", _SERVER_USER, "--"), owner


def _cluster_dir(tmp_dir: Path, owner: pwd.struct_passwd | None) -> tuple[Path, Path | None]:
    """The folder the cluster goes in, and that folder again if it is outside `tmp_dir`.

    Outside `tmp_dir` (in the system temporary directory, deleted at the stop)
    when `owner` cannot reach `tmp_dir` or when the socket path would be too long.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if owner is not None and not _reachable_by(tmp_dir, owner):
        owned_dir = Path(tempfile.mkdtemp(prefix="botrt-pg-"))
        return owned_dir, owned_dir
    base = Path(tempfile.mkdtemp(prefix="pg-", dir=tmp_dir))
    if len(str(base / "s")) > _MAX_SOCKET_DIR:
        owned_dir = Path(tempfile.mkdtemp(prefix="botrt-pg-"))
        return owned_dir, owned_dir
    return base, None


def _init_cluster(
    bin_dir: Path, run_as: tuple[str, ...], owner: pwd.struct_passwd | None, base: Path
) -> None:
    """Make the cluster's folders under `base` (socket ``s``, ``data``, ``server.log``), run
    `initdb` and configure the server for tests."""
    socket_dir = base / "s"
    data_dir = base / "data"
    log_file = base / "server.log"
    socket_dir.mkdir()
    data_dir.mkdir(mode=0o700)
    log_file.touch()
    if owner is not None:
        for path in (base, socket_dir, data_dir, log_file):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    _run(
        [
            *run_as,
            str(bin_dir / "initdb"),
            *("-D", str(data_dir), "-U", _SUPERUSER, "-A", "trust"),
            *("-E", "UTF8", "--locale=C", "--no-sync"),
        ],
        what="initdb",
        cwd=base,
    )
    # Throwaway cluster: trade crash safety for speed. Commits still go through the
    # same code paths, so durability *semantics* (commit, close, reopen) are tested;
    # only survival of an OS crash is not, and nothing here needs it.
    with (data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(
            "\n# botrt.testing: throwaway test server\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "max_connections = 200\n"
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
            *_stop_command(bin_dir, run_as, data_dir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _start(
    bin_dir: Path, run_as: tuple[str, ...], data_dir: Path, log_file: Path, timeout: float
) -> int:
    last: PostgresError | None = None
    for _ in range(_PORT_ATTEMPTS):
        # Another process may take the port between our probe and the server's bind;
        # the server then fails with "Address already in use" and we try another port.
        port = _free_port()
        try:
            _run(
                [
                    *run_as,
                    str(bin_dir / "pg_ctl"),
                    *("start", "-D", str(data_dir), "-l", str(log_file)),
                    *("-w", "-t", str(int(timeout)), "-o", f"-p {port}"),
                ],
                what="pg_ctl start",
                cwd=data_dir.parent,
                log_file=log_file,
            )
        except PostgresError as exc:
            if "already in use" not in str(exc):
                raise
            last = exc
            continue
        return port
    assert last is not None
    raise last


def _check_name(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise PostgresError(f"database name {name!r} must be a lowercase identifier")
    return name


def _stop_command(bin_dir: Path, run_as: tuple[str, ...], data_dir: Path) -> list[str]:
    # "immediate" skips the shutdown checkpoint: nothing here is worth keeping.
    return [
        *run_as,
        str(bin_dir / "pg_ctl"),
        *("stop", "-D", str(data_dir), "-m", "immediate", "-w", "-t", "30"),
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` may traverse every folder from ``/`` down to `path`."""
    for folder in [path.resolve(), *path.resolve().parents]:
        info = folder.stat()
        if info.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid == user.pw_gid or info.st_gid in os.getgrouplist(
            user.pw_name, user.pw_gid
        ):
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _run(command: Sequence[str], *, what: str, cwd: Path, log_file: Path | None = None) -> None:
    env = {**os.environ, "LC_ALL": "C"}
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresError(f"{what} could not run: {exc}") from exc
    if done.returncode != 0:
        output = (done.stderr + done.stdout).strip()
        if log_file is not None:
            with contextlib.suppress(OSError):
                output += "\n--- server log ---\n" + log_file.read_text(errors="replace")
        tail = "\n".join(output.splitlines()[-20:])
        raise PostgresError(f"{what} failed (exit {done.returncode}):\n{tail}")
