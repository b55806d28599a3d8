"""Long Poll leadership (issue 17 item 3), on an in-memory lease store and timers the test
moves: one leader at a time, renewals, loss, a dead leader replaced within `failover`, a
graceful step-down handed over at once. No wall-clock waits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest
from vkhelpers import ManualTimer

from botrt.protocols.vk._leader import (
    EXPIRY_MARGIN,
    Leadership,
    LeadershipLost,
    MemoryLeases,
    Tenure,
)

pytestmark = pytest.mark.anyio

NAME = "vk-longpoll:g"
FAILOVER = 5.0


class Store(MemoryLeases):
    """Leases on the timer's clock; owners in `cut` cannot reach it (a dead machine)."""

    def __init__(self, timer: ManualTimer) -> None:
        super().__init__(timer.now)
        self.cut: set[str] = set()

    def _reach(self, owner: str) -> None:
        if owner in self.cut:
            raise ConnectionError(f"{owner} is cut off")

    async def acquire(self, name: str, owner: str, ttl: float) -> Tenure | None:
        self._reach(owner)
        return await super().acquire(name, owner, ttl)

    async def renew(self, tenure: Tenure, ttl: float) -> bool:
        self._reach(tenure.owner)
        return await super().renew(tenure, ttl)

    async def release(self, tenure: Tenure) -> None:
        self._reach(tenure.owner)
        await super().release(tenure)


class Worker:
    """One worker's leadership, and a `lead` that records its terms and waits."""

    def __init__(self, store: Store, owner: str, timer: ManualTimer) -> None:
        self.leadership = Leadership(store, NAME, owner, failover=FAILOVER, timer=timer)
        self.terms: list[int] = []
        self.ended = 0
        self.changed = anyio.Event()

    async def lead(self) -> None:
        assert self.leadership.tenure is not None
        self.terms.append(self.leadership.tenure.epoch)
        self._notify()
        try:
            await anyio.sleep_forever()
        finally:
            self.ended += 1
            self._notify()

    def _notify(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    async def wait(self, predicate: object) -> None:
        with anyio.fail_after(30):
            while not predicate():  # type: ignore[operator]
                await self.changed.wait()


@asynccontextmanager
async def running(*workers: Worker) -> AsyncIterator[dict[Worker, anyio.CancelScope]]:
    scopes: dict[Worker, anyio.CancelScope] = {}
    async with anyio.create_task_group() as tg:
        for worker in workers:
            scope = anyio.CancelScope()
            scopes[worker] = scope

            async def run(w: Worker = worker, s: anyio.CancelScope = scope) -> None:
                with s:
                    await w.leadership.run(w.lead)

            tg.start_soon(run)
            await anyio.lowlevel.checkpoint()
        yield scopes
        tg.cancel_scope.cancel()
    for worker in workers:
        await worker.leadership.step_down()


async def settle(timer: ManualTimer, sleepers: int) -> None:
    await timer.wait_idle(sleepers)


async def test_one_leader_the_other_stands_by_while_it_renews(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "botrt.cluster")
    timer = ManualTimer()
    store = Store(timer)
    a, b = Worker(store, "a", timer), Worker(store, "b", timer)
    async with running(a, b):
        await a.wait(lambda: a.terms == [1])
        await settle(timer, 2)  # a's keeper, b's standby
        for _ in range(30):  # 30 renewal periods: far past the lease's own life
            timer.advance(a.leadership.renew_every)
            await settle(timer, 2)
        assert a.terms == [1]
        assert a.ended == 0
        assert b.terms == []
        assert a.leadership.leads()
        assert not b.leadership.leads()
    assert "worker a leads vk-longpoll:g (epoch 1)" in caplog.text
    assert "worker b stands by for vk-longpoll:g, led by a" in caplog.text


async def test_a_dead_leader_is_replaced_within_failover() -> None:
    timer = ManualTimer()
    store = Store(timer)
    a, b = Worker(store, "a", timer), Worker(store, "b", timer)
    async with running(a, b) as scopes:
        await a.wait(lambda: a.terms == [1])
        await settle(timer, 2)
        # kill -9: a's process is gone; its lease row stays until it expires.
        store.cut.add("a")
        scopes[a].cancel()
        a.leadership._keeper.cancel()  # type: ignore[union-attr]  # the process died
        await settle(timer, 1)  # only b's standby is left
        died = timer.now()
        step = 0.05
        while not b.terms:
            timer.advance(step)
            await anyio.lowlevel.checkpoint()
            await anyio.lowlevel.checkpoint()
            assert timer.now() - died <= FAILOVER, "b did not take over within failover"
        assert b.terms == [2]  # a new epoch: a's writes are fenced off from here on


async def test_a_standby_looks_again_as_the_dead_leaders_lease_runs_out() -> None:
    timer = ManualTimer()
    store = Store(timer)
    a, b = Worker(store, "a", timer), Worker(store, "b", timer)
    async with running(a) as scopes:
        await a.wait(lambda: a.terms == [1])
        await settle(timer, 1)
        timer.advance(0.2)  # b starts between two renewals: its looks are off a's beat
        async with running(b):
            await settle(timer, 2)
            store.cut.add("a")  # kill -9, as above
            scopes[a].cancel()
            a.leadership._keeper.cancel()  # type: ignore[union-attr]
            await settle(timer, 1)
            expires = store.rows[NAME][2]
            while not b.terms:
                # Move to b's next look each time: it never sleeps past the expiry.
                ((moment, _),) = timer._sleepers
                assert moment <= expires + EXPIRY_MARGIN + 1e-9
                timer.advance(moment - timer.now())
                await anyio.lowlevel.checkpoint()
                await settle(timer, 1)
            # Taken as the lease ran out, not at b's next look on its own beat.
            assert timer.now() == pytest.approx(expires + EXPIRY_MARGIN)
            assert b.terms == [2]


async def test_a_graceful_step_down_hands_over_at_once() -> None:
    timer = ManualTimer()
    store = Store(timer)
    a, b = Worker(store, "a", timer), Worker(store, "b", timer)
    async with running(a, b) as scopes:
        await a.wait(lambda: a.terms == [1])
        await settle(timer, 2)
        scopes[a].cancel()  # a stop: a keeps its lease while the host drains...
        await a.wait(lambda: a.ended == 1)
        assert store.rows[NAME][0] == "a"
        await a.leadership.step_down()  # ...then gives it back
        assert await store.holder(NAME) is None
        timer.advance(b.leadership.standby_every)  # b's next look, long before expiry
        await b.wait(lambda: b.terms == [2])
        assert timer.now() - 1000.0 < a.leadership.ttl


async def test_a_leader_whose_renewals_fail_steps_back_at_its_deadline() -> None:
    timer = ManualTimer()
    store = Store(timer)
    a = Worker(store, "a", timer)
    async with running(a):
        await a.wait(lambda: a.terms == [1])
        await settle(timer, 1)
        store.cut.add("a")  # the database is out of reach: renewals fail
        step = a.leadership.renew_every / 2
        while True:
            timer.advance(step)
            await settle(timer, 1)  # its keeper, or once it stepped back its standby
            if a.ended:
                break
            assert a.leadership.leads()  # its own until the deadline...
        # ...and not after: another worker may take it from then on.
        assert not a.leadership.leads()
        assert a.leadership.ttl <= timer.now() - 1000.0 <= a.leadership.ttl + step
        with pytest.raises(LeadershipLost):
            a.leadership.check()
        store.cut.clear()  # back: it takes the lease again (nobody else did)
        timer.advance(a.leadership.standby_every)
        await a.wait(lambda: a.terms == [1, 1])  # its own still: the same epoch


async def test_a_lost_renewal_stops_the_term_and_stands_by(
    caplog: pytest.LogCaptureFixture,
) -> None:
    timer = ManualTimer()
    store = Store(timer)
    a = Worker(store, "a", timer)
    async with running(a):
        await a.wait(lambda: a.terms == [1])
        await settle(timer, 1)
        # Another worker took the lease over (a's had expired while a was paused).
        store.rows[NAME] = ("b", 2, timer.now() + 100)
        timer.advance(a.leadership.renew_every)
        await a.wait(lambda: a.ended == 1)
        await settle(timer, 1)  # standing by
        assert a.leadership.tenure is None
        assert not a.leadership.leads()
    assert "worker a no longer leads vk-longpoll:g (epoch 1)" in caplog.text


async def test_lead_raising_leadership_lost_stands_by() -> None:
    timer = ManualTimer()
    store = Store(timer)
    leadership = Leadership(store, NAME, "a", failover=FAILOVER, timer=timer)
    terms: list[int] = []

    async def lead() -> None:
        assert leadership.tenure is not None
        terms.append(leadership.tenure.epoch)
        if len(terms) == 1:
            store.rows[NAME] = ("b", 2, timer.now() + 1)  # taken while a was paused
            with pytest.raises(LeadershipLost):
                await leadership.fence(None)  # type: ignore[arg-type]
            raise LeadershipLost("the fence said so")
        await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        tg.start_soon(leadership.run, lead)
        await timer.wait_sleeping(1)  # standing by: b holds it
        assert terms == [1]
        timer.advance(1.0)  # b's lease runs out
        with anyio.fail_after(30):
            while len(terms) < 2:
                await anyio.lowlevel.checkpoint()
        assert terms == [1, 3]
        tg.cancel_scope.cancel()
    await leadership.step_down()
    assert store.rows[NAME][0] == ""  # released


async def test_lead_failing_releases_and_propagates() -> None:
    timer = ManualTimer()
    store = Store(timer)
    leadership = Leadership(store, NAME, "a", failover=FAILOVER, timer=timer)

    async def lead() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await leadership.run(lead)
    assert leadership.tenure is None
    assert await store.holder(NAME) is None  # freed for another worker at once
