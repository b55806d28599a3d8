"""Flood control per user (``[bot] flood``) and per-command cooldowns, on the host's clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import anyio
import pytest

from botrt.adapter import TextEvent
from botrt.config import parse_config
from botrt.handle import on_command
from botrt.host import Host
from botrt.testing import ManualClock, MemoryEvent, TestHost

pytestmark = pytest.mark.anyio

START = dt.datetime(2025, 1, 6, 12, 0, tzinfo=dt.UTC)


@on_command("ping")
async def ping(event: TextEvent) -> None:
    await event.reply("pong")


@on_command("roll", cooldown=30)
async def roll(event: TextEvent) -> None:
    await event.reply("4")


FLOOD = {"bot": {"flood": {"messages": 3, "seconds": 10}, "admins": [99]}}


async def test_a_flooding_user_is_told_once_and_ignored_until_under_the_limit() -> None:
    clock = ManualClock(START)
    async with TestHost(flows=[ping], config=FLOOD, clock=clock) as host:
        assert [await host.send("/ping") for _ in range(3)] == [["pong"]] * 3
        assert await host.send("/ping") == [
            "You are sending messages too fast. I will answer again in 10 seconds."
        ]
        assert await host.send("/ping") == []  # told once
        assert await host.send("/ping", user_id=2) == ["pong"]  # others are answered
        assert [await host.send("/ping", user_id=99) for _ in range(5)] == [["pong"]] * 5  # admin
        clock.advance(clock.now() + dt.timedelta(seconds=10))
        assert await host.send("/ping") == ["pong"]
        assert host.host.metrics.flood_dropped == {"memory": 2}


async def test_the_flood_notice_speaks_russian() -> None:
    clock = ManualClock(START)
    config = {"bot": {"flood": {"messages": 1, "seconds": 2}, "language": "ru"}}
    async with TestHost(flows=[ping], config=config, clock=clock) as host:
        await host.send("/ping")
        assert await host.send("/ping") == [
            "Вы отправляете сообщения слишком часто. Я снова отвечу через 2 секунды."
        ]


async def test_a_cooldown_says_when_to_try_again() -> None:
    clock = ManualClock(START)
    async with TestHost(flows=[roll, ping], clock=clock) as host:
        assert await host.send("/roll") == ["4"]
        clock.advance(clock.now() + dt.timedelta(seconds=9))
        assert await host.send("/roll") == ["You can use /roll again in 21 seconds."]
        assert await host.send("/roll", user_id=2) == ["4"]  # per user
        assert await host.send("/ping") == ["pong"]  # per command
        clock.advance(clock.now() + dt.timedelta(seconds=20))
        assert await host.send("/roll") == ["You can use /roll again in 1 second."]
        clock.advance(clock.now() + dt.timedelta(seconds=1))
        assert await host.send("/roll") == ["4"]
    clock = ManualClock(START)
    async with TestHost(flows=[roll], clock=clock, config={"bot": {"language": "ru"}}) as host:
        assert await host.send("/roll") == ["4"]
        for wait, word in [
            (29, "секунд"),
            (22, "секунды"),
            (21, "секунду"),
            (3, "секунды"),
            (1, "секунду"),
        ]:
            clock.advance(START + dt.timedelta(seconds=30 - wait))
            assert await host.send("/roll") == [
                f"Команду /roll можно будет использовать снова через {wait} {word}."
            ]


def test_a_cooldown_must_be_positive_seconds() -> None:
    for bad in (0, -1, "5", True):
        with pytest.raises(ValueError, match="cooldown"):
            on_command("x", cooldown=bad)  # type: ignore[arg-type]


class SmallHost(Host):
    max_queue = 8
    max_pending = 4


async def test_a_flood_of_100_messages_in_a_second_on_a_served_host(tmp_path: Path) -> None:
    config = parse_config(
        {
            "console": {"enabled": False},
            "plugins": {"builtin": False, "dirs": []},
            "bot": {"flood": {"messages": 10, "seconds": 10}},
        },
        base_dir=tmp_path,
    )
    host = SmallHost(config, entry_points=False, metrics=True)
    host.info.clock = ManualClock(START)  # stands still: all 100 come within one second
    flooder = [MemoryEvent("/ping", user_id=1) for _ in range(100)]
    others = [MemoryEvent("/ping", user_id=uid) for uid in range(2, 12)]
    events = [*flooder[:50], *others, *flooder[50:]]
    done = anyio.Event()
    handled = 0

    def one_done() -> None:
        nonlocal handled
        handled += 1
        if handled == len(events):
            done.set()

    for event in events:
        event.on_handled = one_done
    async with host, anyio.create_task_group() as tg:
        host.dispatcher.add(ping)
        tg.start_soon(lambda: host.serve(signals=False))
        for event in events:  # as an adapter does: waits while the bounded queue is full
            await host.submit(event)
        with anyio.fail_after(30):
            await done.wait()
        host.request_stop()
    replies = [r for e in flooder for r in e.replies]
    assert replies.count("pong") == 10
    assert [r for r in replies if r != "pong"] == [
        "You are sending messages too fast. I will answer again in 10 seconds."
    ]
    assert all(e.replies == ["pong"] for e in others)
    scraped = host.metrics.render().decode()
    assert 'botrt_flood_dropped_total{bot="memory"} 90.0' in scraped
