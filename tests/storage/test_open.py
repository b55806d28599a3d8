"""Opening and closing storage, and what its errors say."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, select, text

from botrt._errors import BotrtError
from botrt.storage import Storage, StorageError, default_url
from botrt.testing._postgres import PostgresServer

pytestmark = pytest.mark.anyio

SECRET = "hunter2-Sup3rSecret"


@pytest.fixture
def closed_port() -> Iterator[int]:
    # Bound but not listening: connections are refused, and nobody else can take it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def _chain(error: BaseException) -> str:
    """Every message in the exception chain, as a traceback would show them."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        parts.append(f"{type(current).__name__}: {current!s} {current!r}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


async def test_open_and_close(storage_url: str) -> None:
    storage = await Storage.open(storage_url)
    assert not storage.closed
    assert storage.backend == storage_url.partition(":")[0]
    ps = storage.for_plugin("hello")
    assert await ps.scalar(select(1)) == 1
    await storage.close()
    await storage.close()  # idempotent
    assert storage.closed
    with pytest.raises(StorageError, match="closed"):
        await ps.scalar(select(1))


async def test_async_with_closes(storage_url: str) -> None:
    async with await Storage.open(storage_url) as storage:
        assert await storage.for_plugin("hello").scalar(select(2)) == 2
    assert storage.closed


async def test_sqlite_is_durable_and_in_wal_mode(tmp_path: Path) -> None:
    async with (
        await Storage.open(f"sqlite:///{tmp_path / 'bot.db'}") as storage,
        storage.transaction(write=False) as conn,
    ):
        assert (await conn.scalar(text("PRAGMA journal_mode"))) == "wal"
        assert (await conn.scalar(text("PRAGMA synchronous"))) == 2  # FULL
        assert (await conn.scalar(text("PRAGMA foreign_keys"))) == 1
        assert (await conn.scalar(text("PRAGMA busy_timeout"))) > 0


async def test_relative_sqlite_path_is_relative_to_base_dir(tmp_path: Path) -> None:
    async with await Storage.open("sqlite:///botrt.db", base_dir=tmp_path) as storage:
        await storage.for_plugin("hello").kv_set("k", 1)
    assert (tmp_path / "botrt.db").is_file()


def test_default_url_is_beside_the_config(tmp_path: Path) -> None:
    assert default_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'botrt.db'}"


async def test_memory_database_works_and_leaves_nothing(tmp_path: Path) -> None:
    storage = await Storage.open("sqlite:///:memory:")
    ps = storage.for_plugin("hello")
    items = ps.table("items", Column("id", Integer, primary_key=True))
    await ps.create_all()
    await ps.execute(items.insert(), [{"id": 1}, {"id": 2}])
    assert await ps.scalar(select(items.c.id).order_by(items.c.id.desc())) == 2
    folder = Path(storage.url.removeprefix("sqlite+aiosqlite:///")).parent
    assert folder.is_dir()
    await storage.close()
    assert not folder.exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", "empty"),
        ("not a url", "invalid storage URL"),
        ("mysql://user@host/db", "backend 'mysql' is not supported"),
        ("postgresql+psycopg2://user@host/db", "asyncpg"),
        ("sqlite+pysqlite:///x.db", "aiosqlite"),
        ("sqlite:////no/such/folder/bot.db", "folder /no/such/folder does not exist"),
    ],
)
async def test_bad_url_is_explained(url: str, expected: str) -> None:
    with pytest.raises(StorageError, match=expected) as caught:
        await Storage.open(url)
    assert isinstance(caught.value, BotrtError)
    assert "sqlite:///" in str(caught.value)  # says what a good URL looks like


async def test_sqlite_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is a folder"):
        await Storage.open(f"sqlite:///{tmp_path}")


async def test_not_a_sqlite_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match=r"cannot open SQLite database .*junk\.db"):
        await Storage.open(f"sqlite:///{junk}")


async def test_unparsable_url_hides_password() -> None:
    with pytest.raises(StorageError) as caught:
        await Storage.open(f"postgresql://botrt:{SECRET}@db.example:notaport/bot")
    assert SECRET not in _chain(caught.value)
    assert "***" in str(caught.value)


async def test_unreachable_server_names_host_and_port_but_not_password(closed_port: int) -> None:
    url = f"postgresql://botrt:{SECRET}@127.0.0.1:{closed_port}/bot"
    with pytest.raises(StorageError) as caught:
        await Storage.open(url, connect_timeout=5)
    message = str(caught.value)
    assert f"127.0.0.1:{closed_port}" in message
    assert "'bot'" in message
    assert "'botrt'" in message
    assert SECRET not in _chain(caught.value)


async def test_missing_database_is_explained_without_password(
    postgres_server: PostgresServer,
) -> None:
    url = (
        f"postgresql://{postgres_server.user}:{SECRET}@{postgres_server.host}:"
        f"{postgres_server.port}/no_such_database"
    )
    with pytest.raises(StorageError, match="no_such_database") as caught:
        await Storage.open(url)
    assert SECRET not in _chain(caught.value)
    assert "does not exist" in str(caught.value)


async def test_url_property_masks_password(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database().replace("postgres@", f"postgres:{SECRET}@")
    async with await Storage.open(url) as storage:
        assert SECRET not in storage.url
        assert SECRET not in repr(storage)
        assert SECRET not in repr(storage.for_plugin("hello"))
        assert storage.url.startswith("postgresql+asyncpg://")


async def test_plain_postgres_scheme_is_accepted(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database().replace("postgresql://", "postgres://")
    async with await Storage.open(url) as storage:
        assert storage.backend == "postgresql"
