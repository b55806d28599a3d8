"""A PostgreSQL cluster on disk, through its command-line tools, for `_postgres.py`.

Finds the server's binaries, makes a cluster (`initdb`, settings for tests),
starts it on a free loopback port, and runs each tool so that a failure
raises `PostgresError` quoting its output (and the server log).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from botrt._errors import BotrtError
from botrt.testing._ports import free_port

_SERVER_USER = "postgres"
"""The OS user the server runs as when we are root (`initdb` refuses to run as root)."""

SUPERUSER = "postgres"
"""The database superuser `initdb` creates; trusted, so it has no password."""

_MAX_SOCKET_DIR = 90
"""A unix socket path is limited to 107 bytes, and PostgreSQL appends ``/.s.PGSQL.<port>``."""

_PORT_ATTEMPTS = 5

_DEBIAN_BIN_ROOT = Path("/usr/lib/postgresql")
"""Where Debian installs each PostgreSQL version's binaries (``<version>/bin``)."""


class PostgresError(BotrtError):
    """Raised when the throwaway PostgreSQL server cannot be set up or used.

    The message quotes the failing command and the tail of its output or of the server log.
    """


class PostgresNotInstalled(PostgresError):
    """Raised when no PostgreSQL server binaries (`pg_ctl`, `initdb`) are on this machine."""


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


def server_user() -> tuple[tuple[str, ...], pwd.struct_passwd | None]:
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


def cluster_dir(tmp_dir: Path, owner: pwd.struct_passwd | None) -> tuple[Path, Path | None]:
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


def init_cluster(
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
    run_tool(
        [
            *run_as,
            str(bin_dir / "initdb"),
            *("-D", str(data_dir), "-U", SUPERUSER, "-A", "trust"),
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


def start_server(
    bin_dir: Path, run_as: tuple[str, ...], data_dir: Path, log_file: Path, timeout: float
) -> int:
    """Start the cluster in `data_dir` on a free loopback port; return the port.

    :raises PostgresError: if `pg_ctl start` fails (for a taken port, after a few tries).
    """
    last: PostgresError | None = None
    for _ in range(_PORT_ATTEMPTS):
        # Another process may take the port between our probe and the server's bind;
        # the server then fails with "Address already in use" and we try another port.
        port = free_port()
        try:
            run_tool(
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


def stop_command(bin_dir: Path, run_as: tuple[str, ...], data_dir: Path) -> list[str]:
    """The command that stops the cluster in `data_dir` at once."""
    # "immediate" skips the shutdown checkpoint: nothing here is worth keeping.
    return [
        *run_as,
        str(bin_dir / "pg_ctl"),
        *("stop", "-D", str(data_dir), "-m", "immediate", "-w", "-t", "30"),
    ]


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


def run_tool(command: Sequence[str], *, what: str, cwd: Path, log_file: Path | None = None) -> None:
    """Run one of PostgreSQL's tools (`what` names it in errors).

    :raises PostgresError: if it cannot run or fails; the message quotes its output's
        tail, and `log_file` (the server log) when given.
    """
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
