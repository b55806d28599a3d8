"""The broadcast tables: one row per job, one row per recipient of a job.

A job and all its recipients are written in one transaction before the
command is confirmed; each batch's outcomes are written in one transaction
after it is sent. What is still ``pending`` after a crash is what the next
start sends.

A scheduled job is stored alone (``scheduled``, no recipients). When its
time comes, one transaction turns it ``running`` and stores its recipients,
on the condition that it is still ``scheduled``: a cancel, or another
process starting it first, makes that update change nothing, so a job
starts at most once.

Times (``created_at``, ``scheduled_at``...) are given by the caller, from
the host's clock, so tests that move the clock see consistent times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from botrt.adapter import SendOutcome
from botrt.storage import Leases, PluginStorage

from .model import (
    CANCELLED,
    FAILED,
    FINISHED,
    MAX_ATTEMPTS,
    PENDING,
    RETRYABLE,
    RUNNING,
    SCHEDULED,
    SENT,
    FailureGroup,
    Job,
    job_from_row,
)

if TYPE_CHECKING:
    from botrt.plugin import Clock

SCHEMA_VERSION = 4
"""1: the first tables; 2: ``jobs.scheduled_at`` and ``jobs.started_at``;
3: ``jobs.forward`` and ``jobs.forwarded`` (forwarded messages sent along);
4: ``jobs.origin``, unique per bot (the command's update, handled again after a crash)."""

# Well below SQLite's limit on bound parameters per statement.
_IN_CHUNK = 500


class BroadcastStore:
    """The plugin's tables and every query on them."""

    def __init__(self, ps: PluginStorage) -> None:
        self._ps = ps
        self.jobs = ps.table(
            "jobs",
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("bot", String(100), nullable=False),
            Column("audience", String(20), nullable=False),
            Column("text", Text, nullable=False),
            Column("attachment", Text, nullable=False, default=""),
            Column("created_by", BigInteger, nullable=False),
            Column("created_at", Float, nullable=False),
            Column("state", String(20), nullable=False),
            Column("planned", Integer, nullable=False, default=0),
            Column("sent", Integer, nullable=False, default=0),
            Column("failed", Integer, nullable=False, default=0),
            Column("finished_at", Float, nullable=True),
            Column("reported", Boolean, nullable=False, default=False),
            Column("last_error", Text, nullable=True),
            Column("scheduled_at", Float, nullable=True),
            Column("started_at", Float, nullable=True),
            # NULL in jobs stored before version 3: nothing forwarded.
            Column("forward", Text, nullable=True),
            Column("forwarded", Integer, nullable=True),
            # The id of the update whose command made the job (VK's `event_id`), or
            # NULL: a command handled again after a crash finds its job by it.
            Column("origin", String(200), nullable=True),
            Index("jobs_origin", "bot", "origin", unique=True),
        )
        self.recipients = ps.table(
            "recipients",
            Column("job_id", Integer, ForeignKey(self.jobs.c.id), primary_key=True),
            Column("peer_id", BigInteger, primary_key=True, autoincrement=False),
            Column("state", String(10), nullable=False),
            Column("attempts", Integer, nullable=False, default=0),
            Column("error_code", Integer, nullable=True),
            Column("error", Text, nullable=True),
            Index("recipients_job_state", "job_id", "state"),
        )

    async def setup(self) -> None:
        """Create the tables if needed.

        :raises MigrationError: if the stored schema is newer than this plugin's.
        :raises StorageError: if the database cannot be reached.
        """
        await self._ps.migrate(
            SCHEMA_VERSION,
            {
                2: self._add_schedule_columns,
                3: self._add_forward_columns,
                4: self._add_origin_column,
            },
        )

    def _add_schedule_columns(self, conn: Connection) -> None:
        # Version 1 jobs were all started by the command: both columns stay NULL
        # for them, which is what an unscheduled job of unknown start time is.
        for column in ("scheduled_at", "started_at"):
            conn.execute(text(f"ALTER TABLE {self.jobs.name} ADD COLUMN {column} FLOAT"))

    def _add_forward_columns(self, conn: Connection) -> None:
        # Older jobs forwarded nothing: NULL reads as "" and 0 (`job_from_row`).
        conn.execute(text(f"ALTER TABLE {self.jobs.name} ADD COLUMN forward TEXT"))
        conn.execute(text(f"ALTER TABLE {self.jobs.name} ADD COLUMN forwarded INTEGER"))

    def _add_origin_column(self, conn: Connection) -> None:
        # Older jobs have no origin (NULL), and NULLs never clash in a unique index.
        conn.execute(text(f"ALTER TABLE {self.jobs.name} ADD COLUMN origin VARCHAR(200)"))
        for index in self.jobs.indexes:
            if index.name is not None and index.name.endswith("jobs_origin"):
                index.create(conn)

    def leases(self, clock: Clock) -> Leases:
        """Leases timed by `clock`, on the plugin's database (who sends which job)."""
        return self._ps.leases(clock)

    # -- writing ---------------------------------------------------------------

    async def create(
        self,
        *,
        bot: str,
        audience: str,
        text: str,
        attachment: str,
        created_by: int,
        peer_ids: Sequence[int],
        now: float,
        forward: str = "",
        forwarded: int = 0,
        origin: str | None = None,
    ) -> Job:
        """Store a running job and its recipients, all pending, in one transaction.

        Committed (and durable) when it returns. With an `origin` (the id of the
        update whose command asks for it) that `bot` already has a job of, stores
        nothing and returns that job: the command was handled again.

        :raises StorageError: if the database cannot be reached.
        """
        started = {"started_at": now, "state": RUNNING, "planned": len(peer_ids)}
        new = _new_job(bot, audience, text, attachment, created_by, now, forward, forwarded)
        return await self._insert(new | started | {"origin": origin}, peer_ids)

    async def schedule(
        self,
        *,
        bot: str,
        audience: str,
        text: str,
        attachment: str,
        created_by: int,
        at: float,
        now: float,
        forward: str = "",
        forwarded: int = 0,
        origin: str | None = None,
    ) -> Job:
        """Store a job that is to start at `at` (seconds since the epoch), with no recipients yet.

        Committed (and durable) when it returns. `origin` as for `create`.

        :raises StorageError: if the database cannot be reached.
        """
        waiting = {"scheduled_at": at, "state": SCHEDULED, "planned": 0}
        new = _new_job(bot, audience, text, attachment, created_by, now, forward, forwarded)
        return await self._insert(new | waiting | {"origin": origin}, ())

    async def _insert(self, values: dict[str, Any], peer_ids: Sequence[int]) -> Job:
        origin = values["origin"]
        if origin is not None:
            earlier = await self.by_origin(values["bot"], origin)
            if earlier is not None:
                return earlier
        try:
            async with self._ps.begin() as conn:
                result = await conn.execute(insert(self.jobs).values(**values))
                job_id = int(result.inserted_primary_key[0])
                if peer_ids:
                    await self._add_recipients(conn, job_id, peer_ids)
        except IntegrityError:
            # The same command handled twice at once: the other handling stored it first.
            earlier = await self.by_origin(values["bot"], origin) if origin else None
            if earlier is None:
                raise
            return earlier
        job = await self.get(job_id)
        assert job is not None
        return job

    async def by_origin(self, bot: str, origin: str) -> Job | None:
        """`bot`'s job made by the update `origin`, or None."""
        j = self.jobs
        row = await self._ps.fetch_one(select(j).where(j.c.bot == bot, j.c.origin == origin))
        return job_from_row(row) if row is not None else None

    async def start_scheduled(self, job_id: int, peer_ids: Sequence[int], now: float) -> Job | None:
        """Turn scheduled job `job_id` running with these recipients, in one transaction.

        Returns the running job, or None when it was no longer scheduled
        (cancelled, or started by another process): then nothing is written.

        :raises StorageError: if the database cannot be reached.
        """
        j = self.jobs
        async with self._ps.begin() as conn:
            # The condition is the lock: of two processes, or a start and a
            # cancel, only the first update to commit changes the row.
            result = await conn.execute(
                update(j)
                .where(j.c.id == job_id, j.c.state == SCHEDULED)
                .values(state=RUNNING, planned=len(peer_ids), started_at=now)
            )
            if result.rowcount != 1:
                return None
            await self._add_recipients(conn, job_id, peer_ids)
        return await self.get(job_id)

    async def _add_recipients(
        self, conn: AsyncConnection, job_id: int, peer_ids: Sequence[int]
    ) -> None:
        rows = [{"job_id": job_id, "peer_id": p, "state": PENDING, "attempts": 0} for p in peer_ids]
        if rows:
            await conn.execute(insert(self.recipients), rows)

    async def record(self, job_id: int, outcomes: Iterable[SendOutcome]) -> Job:
        """Write one batch's outcomes and the job's new counts, in one transaction.

        Recipients already recorded are left alone, so recording a resent
        batch again changes nothing. A retryable error leaves the recipient
        pending until its `MAX_ATTEMPTS`-th failure.

        :raises StorageError: if the database cannot be reached.
        """
        r = self.recipients
        sent: list[int] = []
        final: list[dict[str, Any]] = []
        retry: list[dict[str, Any]] = []
        for o in outcomes:
            if o.ok:
                sent.append(o.peer_id)
                continue
            row = {"b_peer": o.peer_id, "b_code": o.error_code, "b_error": o.error}
            (retry if o.error_code in RETRYABLE else final).append(row)
        pending = (r.c.job_id == job_id) & (r.c.state == PENDING)
        async with self._ps.begin() as conn:
            for start in range(0, len(sent), _IN_CHUNK):
                chunk = sent[start : start + _IN_CHUNK]
                await conn.execute(
                    update(r).where(pending, r.c.peer_id.in_(chunk)).values(state=SENT)
                )
            one = pending & (r.c.peer_id == bindparam("b_peer"))
            if final:
                await conn.execute(
                    update(r)
                    .where(one)
                    .values(
                        state=FAILED,
                        attempts=r.c.attempts + 1,
                        error_code=bindparam("b_code"),
                        error=bindparam("b_error"),
                    ),
                    final,
                )
            if retry:
                await conn.execute(
                    update(r)
                    .where(one)
                    .values(
                        attempts=r.c.attempts + 1,
                        error_code=bindparam("b_code"),
                        error=bindparam("b_error"),
                    ),
                    retry,
                )
                await conn.execute(
                    update(r).where(pending, r.c.attempts >= MAX_ATTEMPTS).values(state=FAILED)
                )
            await self._recount(conn, job_id)
        job = await self.get(job_id)
        assert job is not None
        return job

    async def note_error(self, job_id: int, error: str) -> None:
        """Remember why the job's last batch could not be sent (shown by status).

        :raises StorageError: if the database cannot be reached.
        """
        await self._ps.execute(
            update(self.jobs).where(self.jobs.c.id == job_id).values(last_error=error[:500])
        )

    async def finish(self, job_id: int, now: float) -> Job | None:
        """Mark a running job finished (a cancelled one stays cancelled); return it.

        :raises StorageError: if the database cannot be reached.
        """
        j = self.jobs
        await self._ps.execute(
            update(j)
            .where(j.c.id == job_id, j.c.state == RUNNING)
            .values(state=FINISHED, finished_at=now, last_error=None)
        )
        return await self.get(job_id)

    async def cancel(self, job_id: int, bot: str, now: float) -> str | None:
        """Cancel job `job_id` of `bot` if it is scheduled or running; the state it was in, or None.

        A running job's pending recipients stay pending: they are what the
        report calls "not sent". A scheduled job sent nothing, so it has no
        report to send: it is marked reported.

        :raises StorageError: if the database cannot be reached.
        """
        j = self.jobs
        mine = (j.c.id == job_id) & (j.c.bot == bot)
        waiting = update(j).where(mine, j.c.state == SCHEDULED)
        ended = {"state": CANCELLED, "finished_at": now}
        if await self._ps.execute(waiting.values(**ended, reported=True)) > 0:
            return SCHEDULED
        running = update(j).where(mine, j.c.state == RUNNING)
        if await self._ps.execute(running.values(**ended)) > 0:
            return RUNNING
        return None

    async def mark_reported(self, job_id: int) -> None:
        """Remember that the job's report went out.

        :raises StorageError: if the database cannot be reached.
        """
        await self._ps.execute(
            update(self.jobs).where(self.jobs.c.id == job_id).values(reported=True)
        )

    # -- reading -----------------------------------------------------------------

    async def get(self, job_id: int) -> Job | None:
        """The job `job_id`, or None."""
        row = await self._ps.fetch_one(select(self.jobs).where(self.jobs.c.id == job_id))
        return job_from_row(row) if row is not None else None

    async def pending(self, job_id: int, limit: int) -> list[tuple[int, int]]:
        """Up to `limit` (recipient, failed attempts) still to send to; retried ones come last."""
        r = self.recipients
        rows = await self._ps.fetch_all(
            select(r.c.peer_id, r.c.attempts)
            .where(r.c.job_id == job_id, r.c.state == PENDING)
            .order_by(r.c.attempts, r.c.peer_id)
            .limit(limit)
        )
        return [(int(row[0]), int(row[1])) for row in rows]

    async def unfinished(self) -> list[Job]:
        """Jobs still running, or ended without their report, oldest first (not scheduled ones)."""
        j = self.jobs
        rows = await self._ps.fetch_all(
            select(j)
            .where(j.c.state != SCHEDULED, or_(j.c.state == RUNNING, j.c.reported.is_(False)))
            .order_by(j.c.id)
        )
        return [job_from_row(r) for r in rows]

    async def scheduled(self) -> list[Job]:
        """Jobs waiting for their time, soonest first."""
        j = self.jobs
        rows = await self._ps.fetch_all(
            select(j).where(j.c.state == SCHEDULED).order_by(j.c.scheduled_at, j.c.id)
        )
        return [job_from_row(r) for r in rows]

    async def recent(self, bot: str, limit: int) -> list[Job]:
        """`bot`'s running jobs, its scheduled ones (soonest first), its `limit` latest ended ones.

        Running and ended jobs come newest first.
        """
        j = self.jobs
        running = await self._ps.fetch_all(
            select(j).where(j.c.bot == bot, j.c.state == RUNNING).order_by(j.c.id.desc())
        )
        waiting = await self._ps.fetch_all(
            select(j)
            .where(j.c.bot == bot, j.c.state == SCHEDULED)
            .order_by(j.c.scheduled_at, j.c.id)
        )
        ended = await self._ps.fetch_all(
            select(j)
            .where(j.c.bot == bot, j.c.state.not_in([RUNNING, SCHEDULED]))
            .order_by(j.c.id.desc())
            .limit(limit)
        )
        return [job_from_row(r) for r in [*running, *waiting, *ended]]

    async def failure_groups(self, job_id: int) -> list[FailureGroup]:
        """The job's failed recipients counted by error code, most frequent first."""
        r = self.recipients
        rows = await self._ps.fetch_all(
            select(r.c.error_code, func.count(), func.max(r.c.error))
            .where(r.c.job_id == job_id, r.c.state == FAILED)
            .group_by(r.c.error_code)
        )
        groups = [FailureGroup(row[0], row[2] or "", int(row[1])) for row in rows]
        return sorted(groups, key=lambda g: (-g.count, g.code if g.code is not None else -1))

    async def failed(self, job_id: int, limit: int) -> list[tuple[int, int | None]]:
        """Up to `limit` failed recipients of the job, with their error codes."""
        r = self.recipients
        rows = await self._ps.fetch_all(
            select(r.c.peer_id, r.c.error_code)
            .where(r.c.job_id == job_id, r.c.state == FAILED)
            .order_by(r.c.peer_id)
            .limit(limit)
        )
        return [(int(row[0]), row[1]) for row in rows]

    async def _recount(self, conn: AsyncConnection, job_id: int) -> None:
        # Counts are derived from the recipients, never incremented, so a batch
        # recorded twice (a resend after a crash) cannot inflate them.
        r, j = self.recipients, self.jobs
        result = await conn.execute(
            select(r.c.state, func.count()).where(r.c.job_id == job_id).group_by(r.c.state)
        )
        counts = {state: int(n) for state, n in result.all()}
        await conn.execute(
            update(j)
            .where(j.c.id == job_id)
            .values(sent=counts.get(SENT, 0), failed=counts.get(FAILED, 0), last_error=None)
        )


def _new_job(
    bot: str,
    audience: str,
    text: str,
    attachment: str,
    created_by: int,
    now: float,
    forward: str,
    forwarded: int,
) -> dict[str, Any]:
    """The columns every new job starts with, whether it runs now or later."""
    return {
        "bot": bot,
        "audience": audience,
        "text": text,
        "attachment": attachment,
        "forward": forward,
        "forwarded": forwarded,
        "created_by": created_by,
        "created_at": now,
        "sent": 0,
        "failed": 0,
        "reported": False,
    }
