"""botrt's own tables: `CoreTables`, defined once per `Storage` and created by `Storage.open`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from botrt.storage._conversations import define_table
from botrt.storage._lease import define_table as define_lease


@dataclass(frozen=True, slots=True)
class CoreTables:
    """botrt's own tables: the plugins' (keyed by plugin name) and the inbox of updates.

    Attributes:
        metadata: the metadata holding the tables.
        schema: ``botrt_schema(plugin, version, updated_at)``, each plugin's schema version.
        kv: ``botrt_kv(plugin, key, value)``, the plugins' key-value pairs (JSON text).
        conversation: ``botrt_conversation(bot, peer, user_id, plugin, state, data,
            expires_at)``, the durable conversation states (``botrt.handle.Conversation``).
        inbox: ``botrt_inbox(id, bot, event_id, body, received_at, handled_at)``, the
            updates a bot accepted (times in seconds since the epoch; `handled_at` is
            NULL until handled), unique per (bot, event_id).
        cursor: ``botrt_cursor(bot, position, updated_at)``, where each bot's update
            stream resumes (the Long Poll `ts`).
        lease: ``botrt_lease(name, owner, epoch, expires_at)``, who runs which piece of
            work (`botrt.storage._lease`).
    """

    metadata: MetaData
    schema: Table
    kv: Table
    conversation: Table
    inbox: Table
    cursor: Table
    lease: Table

    @classmethod
    def define(cls) -> CoreTables:
        """Build the table definitions (no database access). Raises nothing."""
        metadata = MetaData()
        schema = Table(
            "botrt_schema",
            metadata,
            Column("plugin", String(200), primary_key=True),
            Column("version", Integer, nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
        )
        kv = Table(
            "botrt_kv",
            metadata,
            Column("plugin", String(200), nullable=False),
            Column("key", String(500), nullable=False),
            Column("value", Text, nullable=False),
            PrimaryKeyConstraint("plugin", "key"),
        )
        inbox = Table(
            "botrt_inbox",
            metadata,
            # A surrogate key: the order updates were recorded in, replayed in that order.
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("bot", String(200), nullable=False),
            Column("event_id", String(200), nullable=False),
            Column("body", Text, nullable=False),
            Column("received_at", Float, nullable=False),
            Column("handled_at", Float, nullable=True),
            UniqueConstraint("bot", "event_id", name="botrt_inbox_event"),
            Index("botrt_inbox_received", "received_at"),
        )
        cursor = Table(
            "botrt_cursor",
            metadata,
            Column("bot", String(200), primary_key=True),
            Column("position", String(200), nullable=False),
            Column("updated_at", Float, nullable=False),
        )
        return cls(
            metadata, schema, kv, define_table(metadata), inbox, cursor, define_lease(metadata)
        )
