"""The console as an `Outbound`: what a bot would send elsewhere is shown on standard output."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TextIO

from botrt.adapter import Outbound, SendOutcome
from botrt.protocols.console._adapter import with_keyboard, write_above
from botrt.protocols.console._prompt import Prompt


class ConsoleOutbound(Outbound):
    """Writes messages meant for other conversations to standard output, marked as such.

    On the console there is nobody else to deliver to: this shows what would
    be sent, and to whom, so broadcasts and reports can be tried locally.
    """

    platform = "console"
    batch_size = 1000

    def __init__(self, out: TextIO, prompt: Callable[[], Prompt | None] = lambda: None) -> None:
        self._out = out
        self._prompt = prompt  # the console adapter's, once it exists: kept below the output

    async def send(self, peer_id: int, text: str, **options: Any) -> None:
        """Show `text` as sent to `peer_id`, and the labels of a `keyboard` after it."""
        write_above(self._out, self._prompt(), f"[to {peer_id}] {with_keyboard(text, options)}")

    async def send_many(
        self, peer_ids: Sequence[int], text: str, *, key: str, **options: Any
    ) -> list[SendOutcome]:
        """Show `text` once, with the list of recipients; every recipient counts as reached."""
        if peer_ids:
            shown = ", ".join(str(p) for p in peer_ids[:20])
            more = f" and {len(peer_ids) - 20} more" if len(peer_ids) > 20 else ""
            head = f"[to {len(peer_ids)}: {shown}{more}] "
            write_above(self._out, self._prompt(), head + with_keyboard(text, options))
        return [SendOutcome(p, True) for p in peer_ids]
