"""The built-in broadcast plugin on the in-memory platform, through a real host."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from botrt.adapter import MemberInfo, SendOutcome
from botrt.plugin import PluginLoadError
from botrt.testing import TestHost
from botrt.testing._memory import MemoryOutbound

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
BROADCAST = ROOT / "plugins" / "broadcast"
ADMIN = 1


def roster(count: int, *, first: int = 100) -> list[MemberInfo]:
    """`count` members from id `first`, and the admin (a manager) as id 1."""
    people = [MemberInfo(ADMIN, "Ada", "Admin", "administrator")]
    people += [MemberInfo(i, f"Name{i}", f"Family{i}") for i in range(first, first + count)]
    return people


async def fill(host: TestHost, people: Sequence[MemberInfo], bot: str = "memory") -> None:
    await host.host.members.sync(bot, people)


async def idle(host: TestHost) -> None:
    with anyio.fail_after(10):
        await host.host.background.wait_idle("broadcast")


def messages(outbound: MemoryOutbound, text: str) -> dict[int, int]:
    """How many times each peer received `text`."""
    counts: dict[int, int] = {}
    for peer, sent, _ in outbound.sent:
        if sent == text:
            counts[peer] = counts.get(peer, 0) + 1
    return counts


def reports(outbound: MemoryOutbound, peer: int) -> list[str]:
    return [t for t in outbound.to(peer) if t.startswith("Broadcast #")]


class GatedOutbound(MemoryOutbound):
    """Sends the first `open_batches` batches, then waits at a gate for each further one."""

    def __init__(self, open_batches: int) -> None:
        super().__init__()
        self.open_batches = open_batches
        self.gate = anyio.Event()
        self.waiting = anyio.Event()
        self.calls = 0

    async def send_many(
        self, peer_ids: Sequence[int], text: str, *, key: str, **options: Any
    ) -> list[SendOutcome]:
        self.calls += 1
        if self.calls > self.open_batches:
            self.waiting.set()
            await self.gate.wait()
        return await super().send_many(peer_ids, text, key=key, **options)


class FailingOutbound(MemoryOutbound):
    """Sends the first `good_batches` batches; then every call fails, as an unreachable VK would."""

    def __init__(self, good_batches: int) -> None:
        super().__init__()
        self.good_batches = good_batches
        self.failed = anyio.Event()
        self.calls = 0

    async def send_many(
        self, peer_ids: Sequence[int], text: str, *, key: str, **options: Any
    ) -> list[SendOutcome]:
        self.calls += 1
        if self.calls > self.good_batches:
            self.failed.set()
            raise ConnectionError("platform unreachable")
        return await super().send_many(peer_ids, text, key=key, **options)


class CodedOutbound(MemoryOutbound):
    """Fails given peers with given codes and VK-like texts."""

    def __init__(self, errors: dict[int, tuple[int, str]]) -> None:
        super().__init__()
        self.errors = errors
        self.batches: list[list[int]] = []

    async def send_many(
        self, peer_ids: Sequence[int], text: str, *, key: str, **options: Any
    ) -> list[SendOutcome]:
        self.batches.append(list(peer_ids))
        out = []
        for peer in peer_ids:
            if peer in self.errors:
                code, message = self.errors[peer]
                out.append(SendOutcome(peer, False, code, message))
            else:
                self.sent.append((peer, text, options))
                out.append(SendOutcome(peer, True))
        return out


# -- who may, and what is refused ----------------------------------------------


async def test_members_are_refused_and_nothing_is_written() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        await fill(host, roster(5))
        assert await host.send("/broadcast hello", user_id=100) == [
            "Only admins can use broadcast."
        ]
        assert await host.send("/ma hello", user_id=100) == [
            "Only admins can use broadcast-admins."
        ]
        assert await host.send("/mb status", user_id=100) == ["Only admins can use broadcast."]
        await idle(host)
        assert host.outbound.sent == []
        assert await host.send("/mb status", role="admin") == ["No broadcasts yet."]


@pytest.mark.parametrize("text", ["/mb", "/broadcast   ", "/ma", "/broadcast-admins \n "])
async def test_nothing_to_send_is_a_usage_error_and_writes_nothing(text: str) -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        await fill(host, roster(3))
        (answer,) = await host.send(text, role="admin")
        assert answer.startswith("Nothing to send. Usage:\n/broadcast")
        assert " status [N] - " in answer
        assert " cancel N - " in answer
        await idle(host)
        assert host.outbound.sent == []
        assert await host.send("/mb status", role="admin") == ["No broadcasts yet."]


async def test_a_bot_with_no_stored_members_says_so() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        assert await host.send("/mb hello", role="admin") == [
            "No members are stored for this bot yet."
        ]
        assert await host.send("/mb status", role="admin") == ["No broadcasts yet."]
        assert host.outbound.sent == []


async def test_unknown_or_foreign_jobs_and_bad_ids_are_clear_errors() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        await fill(host, roster(2))
        assert await host.send("/mb cancel", role="admin") == [
            "Which broadcast? Usage: /broadcast cancel N (/broadcast status lists them)."
        ]
        assert await host.send("/mb cancel 7", role="admin") == [
            "No broadcast '7' here. Send /broadcast status for the list."
        ]
        assert await host.send("/mb status x", role="admin") == [
            "'x' is not a broadcast number: write it in digits 0-9, e.g. 3 or #3. "
            "Send /broadcast status for the list."
        ]
        assert await host.send("/mb status 99999999999", role="admin") == [
            "No broadcast '99999999999' here. Send /broadcast status for the list."
        ]
        assert await host.send("/mb hi", role="admin") == ["Broadcast #1 started: 3 recipients."]
        await idle(host)
        assert await host.send("/mb cancel #1", role="admin") == [
            "Broadcast #1 is not running (it is finished)."
        ]


async def test_bad_settings_refuse_the_plugin_with_the_setting_named() -> None:
    config = {"plugins": {"settings": {"broadcast": {"batch_size": 0}}}}
    with pytest.raises(PluginLoadError, match="batch_size must be a positive integer"):
        async with TestHost(plugins=[BROADCAST], config=config):
            pass


# -- sending -----------------------------------------------------------------


async def test_every_member_gets_the_message_once_and_the_start_is_confirmed(
    storage_url: str,
) -> None:
    config = {"storage": {"url": storage_url}}
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        await fill(host, roster(250))
        assert await host.send("/broadcast Exam moved to Friday", role="admin") == [
            "Broadcast #1 started: 251 recipients."
        ]
        await idle(host)
        got = messages(host.outbound, "Exam moved to Friday")
        assert got == {peer: 1 for peer in [ADMIN, *range(100, 350)]}
        # The memory platform takes 100 recipients a call; every call carries the job's key.
        assert host.outbound.keys == ["broadcast-1"] * 3
        (status,) = await host.send("/mb status", role="admin")
        assert status.splitlines()[1].startswith(
            "#1 finished, all members: 251 planned, 251 sent, 0 failed; just now by id1;"
        )


async def test_batch_size_setting_and_multiline_text() -> None:
    config = {"plugins": {"settings": {"broadcast": {"batch_size": 40}}}}
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        await fill(host, roster(199))
        # A new line right after the command keeps the first line of the text.
        await host.send("/mb\nDear students,\n  the exam moved.", role="admin")
        await idle(host)
        assert len(host.outbound.keys) == 5
        assert set(messages(host.outbound, "Dear students,\n  the exam moved.").values()) == {1}
        assert len(messages(host.outbound, "Dear students,\n  the exam moved.")) == 200


async def test_broadcast_admins_reaches_the_admins_and_the_sender_only() -> None:
    config = {"bot": {"admins": [42]}}
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        await fill(host, roster(10))
        assert await host.send("/ma meeting at 5", user_id=7, role="admin") == [
            "Broadcast #1 started: 3 recipients."
        ]
        await idle(host)
        assert messages(host.outbound, "meeting at 5") == {ADMIN: 1, 7: 1, 42: 1}
        (status,) = await host.send("/ma status", role="admin")
        assert "#1 finished, admins: 3 planned, 3 sent, 0 failed" in status


@pytest.mark.parametrize(
    "text", ["status report is ready", "cancel the trip tomorrow", "Status: done, see you"]
)
async def test_only_one_or_two_words_starting_with_a_subcommand_are_a_subcommand(
    text: str,
) -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        await fill(host, roster(1))
        assert await host.send(f"/mb {text}", role="admin") == [
            "Broadcast #1 started: 2 recipients."
        ]
        await idle(host)
        assert messages(host.outbound, text) == {ADMIN: 1, 100: 1}


async def test_the_bot_keeps_answering_and_status_shows_progress_while_a_job_runs() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        gated = GatedOutbound(open_batches=1)
        host.host.register_bot("memory", outbound=gated)
        await fill(host, roster(249))
        assert await host.send("/mb hello", role="admin") == [
            "Broadcast #1 started: 250 recipients."
        ]
        with anyio.fail_after(10):
            await gated.waiting.wait()
        (status,) = await host.send("/mb status", role="admin")
        assert "#1 running, all members: 250 planned, 100 sent, 0 failed, 150 left" in status
        (detail,) = await host.send("/mb status 1", role="admin")
        assert detail.splitlines()[:6] == [
            "Broadcast #1 running: all members.",
            'Text: "hello"',
            "Planned: 250",
            "Sent: 100",
            "Failed: 0",
            "Left: 150",
        ]
        gated.gate.set()
        await idle(host)
        assert len(messages(gated, "hello")) == 250
        assert len(reports(gated, ADMIN)) == 1


async def test_cancel_stops_the_job_and_reports_what_was_not_sent(storage_url: str) -> None:
    config = {"storage": {"url": storage_url}}
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        gated = GatedOutbound(open_batches=1)
        host.host.register_bot("memory", outbound=gated)
        await fill(host, roster(299))
        await host.send("/mb hello", role="admin")
        with anyio.fail_after(10):
            await gated.waiting.wait()
        assert await host.send("/mb cancel 1", role="admin") == [
            "Broadcast #1 cancelled. The admins get its report."
        ]
        gated.gate.set()  # the batch in flight still goes out and is recorded
        await idle(host)
        (report,) = reports(gated, ADMIN)
        assert report.splitlines() == [
            "Broadcast #1 cancelled: all members.",
            'Text: "hello"',
            "Planned: 300",
            "Sent: 200",
            "Failed: 0",
            "Not sent (cancelled): 100",
        ]
        assert len(messages(gated, "hello")) == 200
        (status,) = await host.send("/mb status", role="admin")
        assert "#1 cancelled, all members: 300 planned, 200 sent, 0 failed, 100 not sent" in status


# -- the report --------------------------------------------------------------


async def test_report_groups_reasons_and_names_the_few_who_failed(storage_url: str) -> None:
    config = {"storage": {"url": storage_url}, "bot": {"admins": [9]}}
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        coded = CodedOutbound(
            {
                101: (901, "Can't send messages for users without permission"),
                102: (901, "Can't send messages for users without permission"),
                103: (902, "Can't send messages to this user due to their privacy settings"),
                104: (914, "Message is too long"),
            }
        )
        host.host.register_bot("memory", outbound=coded)
        await fill(host, roster(10))
        await host.send("/mb Lecture cancelled", role="admin")
        await idle(host)
        expected = [
            "Broadcast #1 finished: all members.",
            'Text: "Lecture cancelled"',
            "Planned: 11",
            "Sent: 7",
            "Failed: 4",
            "- 901 never allowed messages from the community: 2",
            "  Name101 Family101 (id101), Name102 Family102 (id102)",
            "- 902 privacy settings: 1",
            "  Name103 Family103 (id103)",
            "- 914 Message is too long: 1",
            "  Name104 Family104 (id104)",
        ]
        # Every admin of the bot: the community's manager and [bot] admins, once each.
        assert [r.splitlines() for r in reports(coded, ADMIN)] == [expected]
        assert [r.splitlines() for r in reports(coded, 9)] == [expected]
        assert reports(coded, 100) == []


async def test_many_failures_are_counted_without_names_and_the_report_fits() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        errors = {100 + i: (901, "no permission") for i in range(30)}
        # 40 different errors with long texts: the report must still fit one VK message.
        errors |= {200 + i: (1000 + i, "x" * 400) for i in range(40)}
        coded = CodedOutbound(errors)
        host.host.register_bot("memory", outbound=coded)
        await fill(host, roster(150))
        await host.send("/mb " + "long text " * 600, role="admin")
        await idle(host)
        (report,) = reports(coded, ADMIN)
        lines = report.splitlines()
        assert len(report) <= 4096
        assert lines[2:6] == [
            "Planned: 151",
            "Sent: 81",
            "Failed: 70",
            "- 901 never allowed messages from the community: 30",
        ]
        assert lines[-1] == "- 26 other reasons: 26"
        assert "Name100" not in report
        assert lines[1].endswith('…"')
        assert len(lines[1]) < 80


async def test_unreachable_recipients_fail_once_and_are_not_retried() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        host.outbound.unreachable.update({100: 901, 101: 902})
        await fill(host, roster(3))
        await host.send("/mb hi", role="admin")
        await idle(host)
        assert host.outbound.keys == ["broadcast-1"]  # one call: nothing was retried
        assert messages(host.outbound, "hi") == {ADMIN: 1, 102: 1}
        (report,) = reports(host.outbound, ADMIN)
        assert (
            "- 901 never allowed messages from the community: 1\n  Name100 Family100 (id100)"
            in (report)
        )
        assert "- 902 privacy settings: 1\n  Name101 Family101 (id101)" in report


async def test_transient_errors_are_retried_then_recorded() -> None:
    config = {"plugins": {"settings": {"broadcast": {"retry_delay": 0}}}}
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        coded = CodedOutbound({100: (10, "Internal server error")})
        host.host.register_bot("memory", outbound=coded)
        await fill(host, roster(2))
        await host.send("/mb hi", role="admin")
        await idle(host)
        assert coded.batches == [[ADMIN, 100, 101], [100], [100]]  # three tries, then failed
        (report,) = reports(coded, ADMIN)
        assert "- 10 Internal server error: 1\n  Name100 Family100 (id100)" in report
        assert messages(coded, "hi") == {ADMIN: 1, 101: 1}


async def test_report_can_be_turned_off() -> None:
    config = {"plugins": {"settings": {"broadcast": {"report": False}}}}
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        await fill(host, roster(3))
        await host.send("/mb hi", role="admin")
        await idle(host)
        assert reports(host.outbound, ADMIN) == []
        assert len(messages(host.outbound, "hi")) == 4


# -- crashes and reloads -------------------------------------------------------


async def test_a_job_cut_short_is_finished_by_the_next_start(storage_url: str) -> None:
    config = {"storage": {"url": storage_url}}
    first = FailingOutbound(good_batches=2)
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        host.host.register_bot("memory", outbound=first)
        await fill(host, roster(449))
        assert await host.send("/mb hello", role="admin") == [
            "Broadcast #1 started: 450 recipients."
        ]
        with anyio.fail_after(10):
            await first.failed.wait()
        (status,) = await host.send("/mb status", role="admin")
        assert "200 sent, 0 failed, 250 left" in status
        # The host stops here, the job half done: as after a crash, nothing more is recorded.
    assert len(messages(first, "hello")) == 200
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        await idle(host)  # on_load resumed the job
        second = host.outbound
        assert len(messages(second, "hello")) == 250
        assert set(messages(first, "hello")).isdisjoint(messages(second, "hello"))
        assert set(messages(first, "hello")) | set(messages(second, "hello")) == {
            ADMIN,
            *range(100, 549),
        }
        (report,) = reports(second, ADMIN)
        assert report.splitlines()[2:5] == ["Planned: 450", "Sent: 450", "Failed: 0"]
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        await idle(host)
        assert host.outbound.sent == []  # nothing left to resume, no second report


async def test_a_reload_hands_the_job_to_the_new_version() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        gated = GatedOutbound(open_batches=1)
        host.host.register_bot("memory", outbound=gated)
        await fill(host, roster(249))
        await host.send("/mb hello", role="admin")
        with anyio.fail_after(10):
            await gated.waiting.wait()
        # From now on the platform is another outbound: what goes where shows who sent it.
        plain = MemoryOutbound()
        host.host.register_bot("memory", outbound=plain)
        runtime = host.host.runtime
        new = runtime.import_plugin("broadcast", BROADCAST)
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(runtime.swap, "broadcast", new)
                # The batch in flight finishes within its grace and is recorded, not resent.
                gated.gate.set()
            await idle(host)
        first, second = messages(gated, "hello"), messages(plain, "hello")
        assert len(first) == 200
        assert len(second) == 50
        assert set(first).isdisjoint(second)
        assert set(first) | set(second) == {ADMIN, *range(100, 349)}
        assert len(reports(plain, ADMIN)) == 1


async def test_work_in_flight_gets_its_grace_only_when_cancelled() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        namespace = host.host.runtime.plugins["broadcast"].namespace
        within_grace = sys.modules[f"{namespace}.sender"].within_grace
        finished: list[float] = []

        async def work(seconds: float) -> str:
            await anyio.sleep(seconds)
            finished.append(seconds)
            return "done"

        # Not cancelled: the grace does not limit it.
        assert await within_grace(0.01, work, 0.05) == "done"
        # Cancelled: it still finishes when it fits in the grace...
        with anyio.move_on_after(0.01):
            await within_grace(1.0, work, 0.06)
        # ...and is cut when it does not.
        with anyio.move_on_after(0.01):
            await within_grace(0.02, work, 5.0)
        assert finished == [0.05, 0.06]
        with pytest.raises(ValueError, match="boom"):
            await within_grace(1.0, fails)


async def fails() -> None:
    raise ValueError("boom")
