"""Sending a job: batches of pending recipients, each outcome recorded, then the report.

The order of writes is what makes a crash harmless. The recipients of a
batch are read as pending, sent with the job's key, and recorded in one
transaction. If the process dies between the send and the record, the batch
is still pending on the next start and goes out again with the same key,
which VK absorbs for recipients who already got it (a repeated `random_id`
to the same peer within the hour).

Each job is sent by one process at a time: the one holding its lease
(``broadcast:job:<id>`` in ``botrt_lease``), renewed while it sends. Another
process that finds the job alive elsewhere (at its start, or having lost the
scheduled start) waits on the host's clock until that lease expires, then
takes the job over where the recorded outcomes stop; a process of this
machine that has exited is taken over at once. A command handled again
after a crash finds the job it made by the update's id (`origin`).

A scheduled job waits in a background task of its own, on the host's clock
(`BotInfo.sleep_until`), until its time; the same task then chooses its
recipients, stores them and sends, exactly as for a job the command
started. A cancel wakes the wait, which then ends. A job whose time passed
while the bot was not running starts as soon as the plugin loads, with a
warning in the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio
import anyio.lowlevel

from botrt.plugin import Background, Backoff, BotInfo, Members, Messenger, UnknownBotError
from botrt.storage import LeaseBusyError, LeaseLostError, StorageError

from .model import ADMINS, MEMBERS, RUNNING, SCHEDULED, Job
from .progress import Progress
from .report import NAMES_UP_TO, local_time, render_report
from .settings import Options
from .store import BroadcastStore

log = logging.getLogger("botrt.plugins.broadcast")

# A batch in flight when the plugin unloads or the host stops gets this long
# to be sent and recorded, so a reload does not resend it (only VK would
# absorb that resend; the console and test platforms cannot). A host's stop
# may end it sooner: its grace is one deadline for everything (`Background.deadline`).
IN_FLIGHT_GRACE = 5.0

MAX_RETRY_DELAY = 60.0

LATE = dt.timedelta(minutes=1)
"""A scheduled job that starts later than this after its time is logged as started late."""

T = TypeVar("T")


def report_random_id(job: Job, admin: int) -> int:
    """A fixed, non-zero int32 `random_id` for one admin's report of one job.

    If the process dies after sending a report but before recording it, the
    next start sends it again; VK then drops the copy.
    """
    digest = hashlib.blake2b(f"{job.key}-report-{admin}".encode(), digest_size=4).digest()
    return (int.from_bytes(digest, "big") & 0x7FFFFFFF) or 1


async def within_grace(
    grace: float,
    fn: Callable[..., Awaitable[T]],
    *args: Any,
    deadline: Callable[[], float | None] = lambda: None,
) -> T:
    """Await ``fn(*args)`` to the end even if the caller is cancelled meanwhile, `grace` s more.

    Without a cancellation, `fn` takes as long as it takes. With one, it has
    `grace` seconds from that moment to finish, and no later than `deadline()`
    (the host's stop deadline, `Background.deadline`); then, or once `fn` has
    finished, the cancellation goes on: the caller starts nothing more. A
    caller already cancelled does not start `fn`.

    :raises Exception: whatever `fn` raised.
    """
    await anyio.lowlevel.checkpoint_if_cancelled()
    shield = anyio.CancelScope(shield=True)
    outcome: list[Any] = []

    async def guard() -> None:
        # Outside the shield, so the caller's cancellation reaches it.
        try:
            await anyio.sleep_forever()
        finally:
            limit = anyio.current_time() + grace
            stop = deadline()
            shield.deadline = min(shield.deadline, limit if stop is None else min(limit, stop))

    async with anyio.create_task_group() as tg:
        tg.start_soon(guard)
        with shield:
            try:
                outcome.append(await fn(*args))
            except Exception as exc:
                outcome.append(exc)
        tg.cancel_scope.cancel()
    # Cancelled meanwhile: the cancellation goes on from here, whatever `fn` did.
    await anyio.lowlevel.checkpoint_if_cancelled()
    if not outcome:
        raise RuntimeError("work was cut short without a cancellation")
    (result,) = outcome
    if isinstance(result, Exception):
        raise result
    return result  # type: ignore[no-any-return]


async def recipients(members: Members | None, bot: str, audience: str, admin: int) -> list[int]:
    """Who a job of `bot` for `audience` goes to now, each once; `admin` is who asked for it.

    The admin who asks gets a copy of a broadcast to the admins: on the
    console, nobody else may be known.
    """
    if members is None:
        return [admin] if audience == ADMINS else []
    if audience == MEMBERS:
        peers = [m.user_id for m in await members.all(bot)]
    else:
        peers = sorted(await members.admin_ids(bot) | {admin})
    return list(dict.fromkeys(peers))


def backoff(base: float, attempt: int) -> float:
    """The wait before retry number `attempt` (from 1): about `base`, doubled each time, capped.

    Jittered (between half and all of that), so the jobs one outage stopped
    do not all retry at the same moment.
    """
    return Backoff(min(base, MAX_RETRY_DELAY), MAX_RETRY_DELAY).delay(attempt)


class Broadcaster:
    """Runs the jobs of one loaded version of the plugin, each in a background task.

    At most one task waits for or sends a given job. Tasks end when the
    plugin unloads; the next version's `resume` picks up where they stopped.
    Every time it stores or compares comes from `info`, the host's clock.
    """

    def __init__(
        self,
        store: BroadcastStore,
        messenger: Messenger,
        members: Members | None,
        background: Background,
        info: BotInfo,
        progress: Progress,
    ) -> None:
        self.store = store
        self.progress = progress
        self.messenger = messenger
        self.members = members
        self.background = background
        self.info = info
        # Job id -> an event that wakes its waiting or sending task early (cancellation).
        self._active: dict[int, anyio.Event] = {}
        # Who this version of the plugin is in the jobs' leases: the process and itself
        # (a reloaded version is another owner; the old one's leases end with its tasks).
        self.leases = store.leases(info)
        self.owner = self.leases.new_owner()

    def _deadline(self) -> float | None:
        return self.background.deadline

    def now(self) -> float:
        """The host clock's time, in seconds since the epoch."""
        return self.info.now().timestamp()

    async def launch(
        self,
        *,
        bot: str,
        audience: str,
        text: str,
        attachment: str,
        admin: int,
        peer_ids: Sequence[int],
        options: Options,
        forward: str = "",
        forwarded: int = 0,
        origin: str | None = None,
    ) -> Job:
        """Store a job to `audience` with its recipients `peer_ids`, and start sending it.

        `forward` (VK's ``forward`` JSON) sends `forwarded` messages along with the text.
        `origin` is the id of the update whose command asks for it (VK's `event_id`):
        the same update handled again (after a crash) returns the job it made, which
        goes on, and starts no second one.

        :raises StorageError: if the database cannot be reached.
        :raises BackgroundError: if the host is not running.
        """
        job = await self.store.create(
            bot=bot,
            audience=audience,
            text=text,
            attachment=attachment,
            created_by=admin,
            peer_ids=peer_ids,
            now=self.now(),
            forward=forward,
            forwarded=forwarded,
            origin=origin,
        )
        self.start(job, options)
        return job

    async def schedule(
        self,
        *,
        bot: str,
        audience: str,
        text: str,
        attachment: str,
        admin: int,
        at: dt.datetime,
        options: Options,
        forward: str = "",
        forwarded: int = 0,
        origin: str | None = None,
    ) -> Job:
        """Store a job that starts at `at` (aware), and wait for it in the background.

        `forward`, `forwarded` and `origin` as for `launch`.

        :raises StorageError: if the database cannot be reached.
        :raises BackgroundError: if the host is not running.
        """
        job = await self.store.schedule(
            bot=bot,
            audience=audience,
            text=text,
            attachment=attachment,
            created_by=admin,
            at=at.timestamp(),
            now=self.now(),
            forward=forward,
            forwarded=forwarded,
            origin=origin,
        )
        if job.state == SCHEDULED:
            self.arm(job, options)
        else:  # the command handled again, after its job started
            self.start(job, options)
        return job

    def start(self, job: Job, options: Options) -> None:
        """Send `job` (or finish its report) in the background, unless already underway.

        :raises BackgroundError: if the host is not running.
        """
        if job.id in self._active:
            return
        self._active[job.id] = anyio.Event()
        self.background.start(self._run_leased, job, options, name=job.key)
        self.progress.track(job)

    def arm(self, job: Job, options: Options) -> None:
        """Wait for scheduled `job`'s time in the background, then send it; unless already armed.

        :raises BackgroundError: if the host is not running.
        """
        if job.id in self._active:
            return
        self._active[job.id] = anyio.Event()
        self.background.start(self._wait_then_run, job, options, name=f"{job.key}-scheduled")
        self.progress.track(job)

    async def resume(self, options: Options) -> list[int]:
        """Start every unfinished job of the running bots and arm every scheduled one.

        Returns the ids of both.
        """
        bots = set(self.messenger.bots())
        resumed = []
        for job in await self.store.unfinished():
            if job.id in self._active:
                continue  # underway here already
            if job.bot not in bots:
                log.info("broadcast #%d waits for bot %r to run again", job.id, job.bot)
                continue
            self.start(job, options)
            resumed.append(job.id)
        if resumed:
            log.info("broadcast: resuming %s", ", ".join(f"#{i}" for i in resumed))
        armed = []
        for job in await self.store.scheduled():
            if job.id in self._active:
                continue
            if job.bot not in bots:
                log.info("scheduled broadcast #%d waits for bot %r to run", job.id, job.bot)
                continue
            self.arm(job, options)
            armed.append(job.id)
        if armed:
            log.info("broadcast: waiting for %s", ", ".join(f"#{i}" for i in armed))
        return resumed + armed

    async def watch(self, options: Options) -> None:
        """Look again for unfinished jobs every standby period of the leases, for ever.

        A job another process started is known here only from its rows: looking
        again puts a task here that waits on the job's lease, so this process
        takes the job over once the other one dies (within ``[cluster] failover``
        in a cluster). A database that cannot be reached is tried again at the
        next look.
        """
        never = anyio.Event()
        while True:
            moment = self.info.now() + dt.timedelta(seconds=self.leases.timing.standby_every)
            while self.info.now() < moment:
                await self.info.sleep_until(moment, never)
            try:
                await self.resume(options)
            except StorageError as exc:
                log.warning("broadcast: could not look for unfinished jobs: %s", exc)

    async def cancel(self, job_id: int, bot: str, options: Options) -> str | None:
        """Cancel job `job_id` of `bot`; the state it was in (scheduled or running), or None.

        A scheduled job's wait ends and nothing is sent. A running job's
        sender stops after the batch in flight and sends the report; with no
        sender in this process, the report goes out from here.
        """
        was = await self.store.cancel(job_id, bot, self.now())
        if was is None:
            return None
        wake = self._active.get(job_id)
        if wake is not None:
            wake.set()
            return was
        job = await self.store.get(job_id)
        if job is not None and was == RUNNING:
            await self._conclude(job, options)
        return was

    async def _wait_then_run(self, job: Job, options: Options) -> None:
        assert job.scheduled_at is not None
        try:
            wake = self._active[job.id]
            moment = dt.datetime.fromtimestamp(job.scheduled_at, dt.UTC)
            while True:
                # Read again after every wake: another process may have
                # cancelled or started it meanwhile. Shielded like the writes
                # below: a query cut by a shutdown can hang the storage's close.
                with anyio.CancelScope(shield=True):
                    current = await self.store.get(job.id)
                if current is None or current.state != SCHEDULED or wake.is_set():
                    self.progress.ended(current or job)
                    return
                now = self.info.now()
                if now >= moment:
                    break
                await self.info.sleep_until(moment, wake)
            if now - moment > LATE:
                log.warning(
                    "broadcast #%d was scheduled for %s, when the bot was not running; "
                    "starting it now",
                    job.id,
                    local_time(job.scheduled_at, self.info.timezone),
                )
            # Shielded like the scheduler's claims: a write cut by a shutdown
            # would leave its outcome unknown and its connection half-closed.
            with anyio.CancelScope(shield=True):
                peers = await recipients(self.members, job.bot, job.audience, job.created_by)
                started = await self.store.start_scheduled(job.id, peers, self.now())
            if started is None:
                # Cancelled at this very moment, or started by another process.
                with anyio.CancelScope(shield=True):
                    current = await self.store.get(job.id)
                if current is not None and current.state == RUNNING:
                    # Sent by the other process: taken over here if that one dies.
                    await self._run_leased(current, options)
                    return
                self.progress.ended(current or job)
                return
            self.progress.track(started)
            log.info("broadcast #%d started as scheduled: %d recipients", job.id, started.planned)
            await self._run_leased(started, options)
        finally:
            self._active.pop(job.id, None)

    async def _run_leased(self, job: Job, options: Options) -> None:
        """Send `job` holding its lease; while another process holds it, wait to take over.

        The lease is renewed while the job runs (every quarter of the storage's
        lease time to live: 30 s, or 0.4 of ``[cluster] failover`` in a
        cluster); a process that dies stops renewing it, and once it expires a
        process that waits takes the job over where the recorded outcomes stop.
        """
        name = f"broadcast:job:{job.id}"
        wake = self._active.setdefault(job.id, anyio.Event())
        told = False
        try:
            while True:
                try:
                    async with self.leases.hold(name, owner=self.owner):
                        await self._run(job, options)
                    return
                except LeaseBusyError as busy:
                    if not told:
                        log.info(
                            "broadcast #%d is sent by another process (%s); taken over here "
                            "if that one stops",
                            job.id,
                            busy.holder.owner,
                        )
                        told = True
                    moment = dt.datetime.fromtimestamp(busy.holder.expires_at, dt.UTC)
                    await self.info.sleep_until(moment, wake)
                except LeaseLostError as lost:
                    log.warning("broadcast #%d: %s", job.id, lost)
                    self._active[job.id] = wake
                if wake.is_set():
                    return  # cancelled here; the sender that runs it ends it
                with anyio.CancelScope(shield=True):
                    current = await self.store.get(job.id)
                if current is None or (current.state != RUNNING and current.reported):
                    self.progress.ended(current or job)
                    return  # ended elsewhere
                job = current
        finally:
            self._active.pop(job.id, None)

    async def _run(self, job: Job, options: Options) -> None:
        try:
            if job.state == RUNNING and not await self._send_all(job, options):
                return
            current = await self.store.get(job.id)
            if current is not None:
                # Like a batch, the ending gets its grace: a stop right after the
                # last batch still records the job finished and sends the report.
                await within_grace(
                    IN_FLIGHT_GRACE, self._conclude, current, options, deadline=self._deadline
                )
        finally:
            self._active.pop(job.id, None)

    async def _send_all(self, job: Job, options: Options) -> bool:
        """Send to every pending recipient; False if the job must wait for a later start."""
        try:
            size = options.batch_size or self.messenger.batch_size(job.bot)
        except UnknownBotError:
            log.warning(
                "broadcast #%d: bot %r is not running; it resumes when it is", job.id, job.bot
            )
            return False
        extra: dict[str, Any] = {"attachment": job.attachment} if job.attachment else {}
        if job.forward:
            extra["forward"] = job.forward
        failures = 0
        while True:
            # Short reads, shielded: a query cut by a shutdown can hang the storage's close.
            with anyio.CancelScope(shield=True):
                current = await self.store.get(job.id)
                batch = await self.store.pending(job.id, size)
            if current is None or current.state != RUNNING:
                return True  # cancelled
            if not batch:
                return True
            retried = min(attempts for _, attempts in batch)
            if retried:
                # Only recipients that failed transiently are left: do not hammer.
                await self._pause(job.id, backoff(options.retry_delay, retried))
                with anyio.CancelScope(shield=True):
                    current = await self.store.get(job.id)
                if (current or job).state != RUNNING:
                    return True
            peers = [peer for peer, _ in batch]
            try:
                await within_grace(
                    IN_FLIGHT_GRACE, self._send_batch, job, peers, extra, deadline=self._deadline
                )
            except UnknownBotError:
                log.warning(
                    "broadcast #%d: bot %r stopped; it resumes when it runs", job.id, job.bot
                )
                return False
            except Exception as exc:
                # The platform is unreachable or refused the whole batch: nothing
                # was recorded, so the batch is pending still. Wait and retry (the
                # same key keeps VK from delivering twice).
                failures += 1
                delay = backoff(options.retry_delay, failures)
                log.warning(
                    "broadcast #%d: batch not sent (%s); retry in %.0f s", job.id, exc, delay
                )
                await self.store.note_error(job.id, f"{type(exc).__name__}: {exc}")
                await self._pause(job.id, delay)
                continue
            failures = 0

    async def _send_batch(self, job: Job, peers: list[int], extra: dict[str, Any]) -> None:
        outcomes = await self.messenger.send_many(job.bot, peers, job.text, key=job.key, **extra)
        self.progress.advanced(await self.store.record(job.id, outcomes))

    async def _pause(self, job_id: int, seconds: float) -> None:
        """Wait `seconds`, or less if the job is cancelled meanwhile."""
        with anyio.move_on_after(seconds):
            await self._active[job_id].wait()

    async def _conclude(self, job: Job, options: Options) -> None:
        job = await self.store.finish(job.id, self.now()) or job
        self.progress.ended(job)
        if job.reported:
            return
        if options.report and not await self._report(job):
            # Kept unreported: the next start that runs the bot sends it (`resume`).
            log.warning(
                "broadcast #%d %s: its report is kept until bot %r runs again",
                job.id,
                job.state,
                job.bot,
            )
            return
        await self.store.mark_reported(job.id)
        log.info(
            "broadcast #%d %s: %d planned, %d sent, %d failed",
            job.id,
            job.state,
            job.planned,
            job.sent,
            job.failed,
        )

    async def _report(self, job: Job) -> bool:
        """Send `job`'s report to its admins; False if its bot is not running to send it."""
        groups = await self.store.failure_groups(job.id)
        names: dict[int | None, list[str]] = {}
        if 0 < job.failed <= NAMES_UP_TO:
            for peer, code in await self.store.failed(job.id, NAMES_UP_TO):
                names.setdefault(code, []).append(await self._name(job.bot, peer))
        text = render_report(job, groups, names, tz=self.info.timezone)
        admins = set(await self.members.admin_ids(job.bot)) if self.members else set()
        admins.add(job.created_by)
        try:
            vk = self.messenger.platform(job.bot) == "vk"
        except UnknownBotError:
            return False
        for admin in sorted(admins):
            options = {"random_id": report_random_id(job, admin)} if vk else {}
            try:
                await self.messenger.send(job.bot, admin, text, **options)
            except Exception as exc:  # one admin's closed messages must not stop the others
                log.warning("broadcast #%d: report not delivered to %d: %s", job.id, admin, exc)
        return True

    async def _name(self, bot: str, peer: int) -> str:
        member = await self.members.get(peer, bot) if self.members else None
        return f"{member.name} (id{peer})" if member is not None else f"id{peer}"
