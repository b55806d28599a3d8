"""Broadcast progress on ``/metrics``: recipients reached, recipients left, jobs by state."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from botrt.plugin import Metrics

from .model import RUNNING, SCHEDULED, Job


class Progress:
    """The plugin's metrics, fed by the `Broadcaster` as its jobs move.

    - ``botrt_broadcast_recipients_total{bot, outcome}``: recipients sent to
      (``sent``) or given up on (``failed``) by this process;
    - ``botrt_broadcast_recipients_left{bot}``: recipients of running jobs
      not yet sent to;
    - ``botrt_broadcast_jobs{bot, state}``: jobs ``running`` or
      ``scheduled`` in this process;
    - ``botrt_broadcast_jobs_ended_total{bot, state}``: jobs that ended
      ``finished`` or ``cancelled``.

    The metrics outlive a reload (the next version gets the same ones), and
    the next version's `resume` reports its jobs again.
    """

    def __init__(self, metrics: Metrics, bots: Callable[[], Iterable[str]]) -> None:
        self._bots = bots
        self._recipients = metrics.counter(
            "recipients", "Broadcast recipients sent to or failed, by outcome", ["bot", "outcome"]
        )
        self._left = metrics.gauge(
            "recipients_left", "Recipients of running broadcasts not yet sent to", ["bot"]
        )
        self._jobs = metrics.gauge(
            "jobs", "Broadcast jobs running or scheduled, by state", ["bot", "state"]
        )
        self._ended = metrics.counter(
            "jobs_ended", "Broadcast jobs that ended, by state", ["bot", "state"]
        )
        self._known: dict[int, Job] = {}
        self._seen_bots: set[str] = set()

    def track(self, job: Job) -> None:
        """`job` is running or scheduled in this process, as of now."""
        self._known[job.id] = job
        self._refresh()

    def advanced(self, job: Job) -> None:
        """A batch of `job` was recorded: count what it sent and failed."""
        before = self._known.get(job.id)
        if before is not None:
            sent, failed = job.sent - before.sent, job.failed - before.failed
            if sent > 0:
                self._recipients.labels(job.bot, "sent").inc(sent)
            if failed > 0:
                self._recipients.labels(job.bot, "failed").inc(failed)
        self.track(job)

    def ended(self, job: Job) -> None:
        """`job` ended (finished or cancelled), or stopped waiting in this process."""
        if self._known.pop(job.id, None) is not None and job.state not in (RUNNING, SCHEDULED):
            self._ended.labels(job.bot, job.state).inc()
        self._refresh()

    def _refresh(self) -> None:
        bots = self._seen_bots
        bots.update(self._bots())
        bots.update(job.bot for job in self._known.values())
        for bot in bots:
            mine = [job for job in self._known.values() if job.bot == bot]
            running = [job for job in mine if job.state == RUNNING]
            self._left.labels(bot).set(sum(job.left for job in running))
            self._jobs.labels(bot, RUNNING).set(len(running))
            self._jobs.labels(bot, SCHEDULED).set(sum(job.state == SCHEDULED for job in mine))
