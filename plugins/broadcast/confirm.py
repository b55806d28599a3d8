"""Asking the admin to confirm a broadcast (``confirm = true``): a preview, Send / Cancel."""

from __future__ import annotations

from typing import Any

from __plugin__ import BROADCAST

from botrt.adapter import Keyboard, TextEvent
from botrt.handle import ConversationCancelled, ConversationEnded, ConversationTimeout, ask

from .report import preview

_ = BROADCAST.gettext
PREVIEW_WIDTH = 200
"""How much of the text the question quotes: enough to recognise it, short enough to read."""
_KEY = "broadcast"


async def confirmed(
    event: TextEvent, *, recipients: int, text: str, attachments: int, forwarded: int
) -> bool:
    """Ask `event`'s sender to confirm the broadcast; True only when they press "Send".

    The question shows the number of recipients and a preview, with Send and
    Cancel buttons; typing a button's label counts as pressing it (the console
    has no buttons). Any other answer, a cancel word, a timeout or a restart
    is a no, and the admin is told that nothing was sent.
    """
    send, cancel = _("Send"), _("Cancel")
    keyboard = Keyboard(inline=True)
    keyboard.button(send, {_KEY: "send"}, color="positive")
    keyboard.button(cancel, {_KEY: "cancel"}, color="negative")
    lines = [
        BROADCAST.ngettext(
            "Send this broadcast to {n} recipient?",
            "Send this broadcast to {n} recipients?",
            recipients,
        ).format(n=recipients),
        preview(
            text, PREVIEW_WIDTH, forwards_only=bool(forwarded) and not text and not attachments
        ),
    ]
    if attachments:
        lines.append(
            BROADCAST.ngettext("With {n} attachment.", "With {n} attachments.", attachments).format(
                n=attachments
            )
        )
    if forwarded:
        lines.append(
            BROADCAST.ngettext(
                "Forwarded with it: {n} message", "Forwarded with it: {n} messages", forwarded
            ).format(n=forwarded)
        )
    try:
        answer = await ask("\n".join(lines), keyboard=keyboard)
    except ConversationEnded as exc:
        await (exc.event or event).reply(_not_sent(exc))
        return False
    if _choice(answer, keyboard) == "send":
        return True
    await answer.reply(_("Broadcast cancelled: nothing was sent."))
    return False


def _choice(answer: TextEvent, keyboard: Keyboard) -> Any:
    payload = answer.payload
    if isinstance(payload, dict) and _KEY in payload:
        return payload[_KEY]
    button = keyboard.find(answer.text.strip())
    return button.payload[_KEY] if button is not None else None


def _not_sent(exc: ConversationEnded) -> str:
    if isinstance(exc, ConversationCancelled):
        return _("Broadcast cancelled: nothing was sent.")
    if isinstance(exc, ConversationTimeout):
        return _("No answer came in time: the broadcast was not sent.")
    return _("The bot is restarting: the broadcast was not sent. Send the command again.")
