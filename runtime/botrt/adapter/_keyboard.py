"""`Keyboard`: rows of buttons sent with a message, checked against VK's limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Self

from botrt._errors import BotrtError

# VK's limits (dev.vk.com/ru/api/bots/development/keyboard): a standard keyboard
# is at most 5 buttons wide and 10 rows high with 40 buttons in all, an inline
# one 5 wide, 6 high, 10 buttons; a label is at most 40 characters, a payload
# (as JSON) at most 255. VK is the strictest platform botrt speaks, so every
# keyboard is held to them: one that works on the console works on VK too.
MAX_BUTTONS_PER_ROW = 5
MAX_ROWS = 10
MAX_ROWS_INLINE = 6
MAX_BUTTONS = 40
MAX_BUTTONS_INLINE = 10
MAX_LABEL_LENGTH = 40
MAX_PAYLOAD_LENGTH = 255
COLORS = frozenset({"primary", "secondary", "positive", "negative"})
"""VK's button colours: blue, white (the default), green, red."""


class KeyboardError(BotrtError, ValueError):
    """A keyboard breaks one of VK's rules; raised by the call that breaks it.

    Attributes:
        limit: which rule: ``"rows"``, ``"buttons_per_row"``, ``"buttons"``,
            ``"label_length"``, ``"payload_length"`` (VK's numeric limits),
            or ``"label"``, ``"payload"``, ``"color"``, ``"one_time"``.
        maximum: the limit's number (None for the other rules).
        value: what the keyboard would have had (a count, a length, the colour).
    """

    def __init__(
        self, message: str, *, limit: str, maximum: int | None = None, value: Any = None
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.maximum = maximum
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable despite the keyword-only arguments (pytest-xdist, multiprocessing).
        return (_rebuild_error, (str(self), self.limit, self.maximum, self.value))


def _rebuild_error(message: str, limit: str, maximum: int | None, value: Any) -> KeyboardError:
    return KeyboardError(message, limit=limit, maximum=maximum, value=value)


@dataclass(frozen=True, slots=True)
class Button:
    """One button of a `Keyboard`.

    Attributes:
        label: the text on the button, and the message text a press sends.
        payload: any JSON value, given back with the press (None: none).
        color: ``"primary"``, ``"secondary"``, ``"positive"``, ``"negative"``,
            or None for the platform's default (white on VK).
        callback: a callback button: a press sends no message; the bot gets a
            `ButtonEvent` (VK `message_event`) to answer instead.
    """

    label: str
    payload: Any = None
    color: str | None = None
    callback: bool = False

    def payload_json(self) -> str | None:
        """The payload as the compact JSON string VK takes, or None without one."""
        if self.payload is None:
            return None
        return _dump(self.payload)

    def to_vk(self) -> dict[str, Any]:
        """The button as a VK keyboard button object."""
        action: dict[str, Any] = {
            "type": "callback" if self.callback else "text",
            "label": self.label,
        }
        payload = self.payload_json()
        if payload is not None:
            action["payload"] = payload
        button: dict[str, Any] = {"action": action}
        if self.color is not None:
            button["color"] = self.color
        return button


class Keyboard:
    """Buttons to send with a message: ``reply(text, keyboard=kb)``.

    ::

        kb = Keyboard(inline=True)
        kb.button("Yes", {"answer": "yes"}, color="positive")
        kb.button("No", {"answer": "no"}, color="negative")
        kb.row().button("Later")
        await event.reply("Coming?", keyboard=kb)

    `button` adds to the current row, `row` starts a new one; both return the
    keyboard, so calls chain. A pressed text button arrives as a text message
    whose `text` is the label and whose `payload` is the button's payload; a
    pressed callback button (``callback=True``) arrives as a `ButtonEvent`.

    A standard keyboard (``inline=False``) stays under the input field until
    another replaces it (an empty `Keyboard()` removes it); with
    ``one_time=True`` it hides after one press. An inline keyboard belongs to
    its message. Every call checks VK's limits, so a keyboard that breaks one
    fails where it is built, not when VK refuses it.

    :raises KeyboardError: from the constructor, for ``inline=True`` with
        ``one_time=True`` (VK does not support it).
    """

    __slots__ = ("_rows", "inline", "one_time")

    def __init__(self, *, inline: bool = False, one_time: bool = False) -> None:
        if inline and one_time:
            raise KeyboardError(
                "an inline keyboard cannot be one_time (VK does not support it); "
                "drop one_time=True, or use a standard keyboard",
                limit="one_time",
            )
        self.inline = inline
        self.one_time = one_time
        self._rows: list[list[Button]] = [[]]

    @property
    def max_rows(self) -> int:
        """How many rows this kind of keyboard may have on VK (10, inline 6)."""
        return MAX_ROWS_INLINE if self.inline else MAX_ROWS

    @property
    def max_buttons(self) -> int:
        """How many buttons this kind of keyboard may have on VK (40, inline 10)."""
        return MAX_BUTTONS_INLINE if self.inline else MAX_BUTTONS

    def button(
        self,
        label: str,
        payload: Any = None,
        *,
        color: str | None = None,
        callback: bool = False,
    ) -> Self:
        """Add a button to the current row; return the keyboard.

        `payload` is any JSON-serialisable value. `color` is one of
        ``primary``, ``secondary``, ``positive``, ``negative`` (None: the
        default). ``callback=True`` makes a callback button.

        :raises KeyboardError: for an empty label or one over 40 characters, a
            payload that is not JSON-serialisable or over 255 characters as
            JSON, an unknown colour, a sixth button in a row, or more buttons
            than the keyboard may hold (40, inline 10); `limit` says which.
        """
        _check_button(label, payload, color)
        row = self._check_room(label)
        row.append(Button(label, payload, color, callback))
        return self

    def _check_room(self, label: str) -> list[Button]:
        """The current row, if it and the keyboard have room for button `label`."""
        row = self._rows[-1]
        if len(row) >= MAX_BUTTONS_PER_ROW:
            raise KeyboardError(
                f"row {len(self._rows)} already has {MAX_BUTTONS_PER_ROW} buttons, "
                f"the most VK allows in a row; call row() first to start a new one",
                limit="buttons_per_row",
                maximum=MAX_BUTTONS_PER_ROW,
                value=len(row) + 1,
            )
        count = sum(len(r) for r in self._rows)
        if count >= self.max_buttons:
            kind = "an inline" if self.inline else "a standard"
            raise KeyboardError(
                f"button {label!r} would be button {count + 1}; {kind} keyboard holds "
                f"at most {self.max_buttons} on VK",
                limit="buttons",
                maximum=self.max_buttons,
                value=count + 1,
            )
        return row

    def row(self) -> Self:
        """Start a new row (nothing happens while the current row is empty); return the keyboard.

        :raises KeyboardError: if the keyboard already has as many rows as VK
            allows (10, inline 6).
        """
        if not self._rows[-1]:
            return self
        if len(self._rows) >= self.max_rows:
            kind = "an inline" if self.inline else "a standard"
            raise KeyboardError(
                f"row {len(self._rows) + 1} is one too many: {kind} keyboard has at most "
                f"{self.max_rows} rows on VK",
                limit="rows",
                maximum=self.max_rows,
                value=len(self._rows) + 1,
            )
        self._rows.append([])
        return self

    @property
    def rows(self) -> tuple[tuple[Button, ...], ...]:
        """The rows of buttons, top to bottom, empty rows left out."""
        return tuple(tuple(r) for r in self._rows if r)

    def __iter__(self) -> Iterator[Button]:
        """Every button, row by row, left to right."""
        for row in self._rows:
            yield from row

    def __len__(self) -> int:
        """How many buttons the keyboard has."""
        return sum(len(r) for r in self._rows)

    def find(self, label: str) -> Button | None:
        """The first button labelled `label`, or None."""
        return next((b for b in self if b.label == label), None)

    def to_vk(self) -> dict[str, Any]:
        """The keyboard as VK's keyboard object (a dict; `to_json` gives VK's string)."""
        data: dict[str, Any] = {}
        if self.inline:
            data["inline"] = True
        else:
            data["one_time"] = self.one_time
        data["buttons"] = [[b.to_vk() for b in row] for row in self.rows]
        return data

    def to_json(self) -> str:
        """The keyboard as the JSON string `messages.send(keyboard=...)` takes."""
        return _dump(self.to_vk())

    def to_text(self) -> str:
        """The labels as text, one line per row: ``[Yes] [No]``; empty with no buttons."""
        return "\n".join(" ".join(f"[{b.label}]" for b in row) for row in self.rows)

    def __repr__(self) -> str:
        flags = "".join(
            f" {name}=True" for name, on in (("inline", self.inline), ("one_time", self.one_time))
        )
        return f"<Keyboard{flags} {self.to_text().replace(chr(10), ' / ')!r}>"


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _check_button(label: str, payload: Any, color: str | None) -> None:
    """Check one button's own rules: its label, colour and payload (as `Keyboard.button` says)."""
    if not isinstance(label, str) or not label.strip():
        raise KeyboardError(
            f"a button needs a non-empty label, got {label!r}", limit="label", value=label
        )
    if len(label) > MAX_LABEL_LENGTH:
        raise KeyboardError(
            f"button label {label[:20]!r}... is {len(label)} characters; "
            f"VK allows at most {MAX_LABEL_LENGTH}",
            limit="label_length",
            maximum=MAX_LABEL_LENGTH,
            value=len(label),
        )
    if color is not None and color not in COLORS:
        raise KeyboardError(
            f"button {label!r}: unknown color {color!r}; use one of {', '.join(sorted(COLORS))}",
            limit="color",
            value=color,
        )
    if payload is not None:
        try:
            encoded = _dump(payload)
        except (TypeError, ValueError) as exc:
            raise KeyboardError(
                f"button {label!r}: the payload is not JSON-serialisable ({exc})",
                limit="payload",
                value=payload,
            ) from None
        if len(encoded) > MAX_PAYLOAD_LENGTH:
            raise KeyboardError(
                f"button {label!r}: the payload is {len(encoded)} characters as JSON; "
                f"VK allows at most {MAX_PAYLOAD_LENGTH} (keep an id in it, not the data)",
                limit="payload_length",
                maximum=MAX_PAYLOAD_LENGTH,
                value=len(encoded),
            )
