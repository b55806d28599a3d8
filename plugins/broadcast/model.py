"""What a broadcast is: its states, audiences, and the stored job as a value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEDULED, RUNNING, FINISHED, CANCELLED = "scheduled", "running", "finished", "cancelled"
PENDING, SENT, FAILED = "pending", "sent", "failed"
MEMBERS, ADMINS = "members", "admins"

# Errors worth another try later in the job: VK's answer missed the recipient
# (0), an unknown or internal error (1, 10), too many requests (6). A retry
# reuses the job's key, so a message VK did deliver is not delivered twice.
RETRYABLE = frozenset({0, 1, 6, 10})
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Job:
    """One broadcast as stored.

    Attributes:
        id: the job number users see (``#3``).
        bot: the bot account that sends it.
        audience: ``"members"`` or ``"admins"``.
        text: the message.
        attachment: VK attachment ids joined by commas ("" for none).
        created_by: the admin who started it.
        created_at: when (seconds since the epoch).
        state: ``scheduled``, ``running``, ``finished`` or ``cancelled``.
        planned, sent, failed: recipient counts (0 until it starts: the
            recipients are chosen then).
        finished_at: when it ended, or None.
        reported: the report went out (or was not wanted).
        last_error: why the last batch could not be sent, while it is retried.
        scheduled_at: when a scheduled job is to start (seconds since the
            epoch), or None for one started by the command itself.
        started_at: when it started, or None (scheduled, or cancelled before
            its time; also None for jobs stored before the plugin kept it).
        forward: VK's `messages.send` ``forward`` JSON that passes the
            command's forwarded messages (or the message it replied to) on
            with the text; "" for none.
        forwarded: how many messages that forwards (0 for none).
    """

    id: int
    bot: str
    audience: str
    text: str
    attachment: str
    created_by: int
    created_at: float
    state: str
    planned: int
    sent: int
    failed: int
    finished_at: float | None
    reported: bool
    last_error: str | None
    scheduled_at: float | None = None
    started_at: float | None = None
    forward: str = ""
    forwarded: int = 0

    @property
    def never_started(self) -> bool:
        """A scheduled job not started: still waiting, or cancelled before its time."""
        return self.scheduled_at is not None and self.started_at is None

    @property
    def key(self) -> str:
        """The idempotency key of every send of this job."""
        return f"broadcast-{self.id}"

    @property
    def left(self) -> int:
        """Recipients not yet sent to nor failed."""
        return max(self.planned - self.sent - self.failed, 0)


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failed recipients of one job that share an error code.

    Attributes:
        code: the platform's error code (None when it gave none).
        error: the platform's description of the error.
        count: how many recipients failed with it.
    """

    code: int | None
    error: str
    count: int


def job_from_row(row: Any) -> Job:
    """The `Job` of a row of the jobs table."""
    m = row._mapping
    return Job(
        id=int(m["id"]),
        bot=m["bot"],
        audience=m["audience"],
        text=m["text"],
        attachment=m["attachment"] or "",
        created_by=int(m["created_by"]),
        created_at=float(m["created_at"]),
        state=m["state"],
        planned=int(m["planned"]),
        sent=int(m["sent"]),
        failed=int(m["failed"]),
        finished_at=m["finished_at"],
        reported=bool(m["reported"]),
        last_error=m["last_error"],
        scheduled_at=m["scheduled_at"],
        started_at=m["started_at"],
        forward=m["forward"] or "",
        forwarded=int(m["forwarded"] or 0),
    )
