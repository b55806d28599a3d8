"""Keyboards on the console: labels printed after the text; a typed label carries the payload."""

from __future__ import annotations

import io

import pytest

from botrt.adapter import Event, Keyboard, TextEvent
from botrt.protocols.console._adapter import ConsoleAdapter
from botrt.protocols.console._outbound import ConsoleOutbound

pytestmark = pytest.mark.anyio


async def test_a_reply_shows_the_labels_a_row_a_line_and_a_typed_label_is_a_press() -> None:
    stdin = io.StringIO("/ask\nYes\nyes\nLater\n")
    out = io.StringIO()
    adapter = ConsoleAdapter(user_id=1, role="member", stdin=stdin, stdout=out)
    seen: list[tuple[str, object]] = []

    async def submit(event: Event) -> None:
        assert isinstance(event, TextEvent)
        seen.append((event.text, event.payload))
        if event.text == "/ask":
            kb = Keyboard().button("Yes", {"a": 1}).button("No", {"a": 0}).row()
            kb.button("Later", callback=True)
            await event.reply("Coming?", keyboard=kb)

    await adapter.run(submit)
    assert out.getvalue() == "Coming?\n[Yes] [No]\n[Later]\n"
    # Only an exact label of the shown keyboard is a press; a callback button's
    # label typed on the console stays plain text (the console has no presses).
    assert seen == [("/ask", None), ("Yes", {"a": 1}), ("yes", None), ("Later", None)]


async def test_an_empty_keyboard_removes_the_shown_one() -> None:
    stdin = io.StringIO("/ask\n/clear\nYes\n")
    out = io.StringIO()
    adapter = ConsoleAdapter(user_id=1, role="member", stdin=stdin, stdout=out)
    payloads: list[object] = []

    async def submit(event: Event) -> None:
        assert isinstance(event, TextEvent)
        payloads.append(event.payload)
        if event.text == "/ask":
            await event.reply("Q", keyboard=Keyboard().button("Yes", 1))
        elif event.text == "/clear":
            await event.reply("done", keyboard=Keyboard())

    await adapter.run(submit)
    assert out.getvalue() == "Q\n[Yes]\ndone\n"
    assert payloads == [None, None, None]


async def test_messages_to_others_show_their_keyboard_too() -> None:
    out = io.StringIO()
    outbound = ConsoleOutbound(out)
    kb = Keyboard(inline=True).button("Send").button("Cancel")
    await outbound.send(5, "Send it?", keyboard=kb)
    await outbound.send_many([5, 6], "All?", key="k", keyboard=kb)
    assert out.getvalue() == (
        "[to 5] Send it?\n[Send] [Cancel]\n[to 2: 5, 6] All?\n[Send] [Cancel]\n"
    )
