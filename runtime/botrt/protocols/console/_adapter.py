"""The console adapter: each line of standard input is a message from the console user."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, TextIO

import anyio
import anyio.from_thread
import anyio.lowlevel

from botrt.adapter import Adapter, Keyboard, Submit, TextEvent
from botrt.protocols.console._prompt import Prompt, logs_above

BOT_NAME = "console"


class ShownKeyboard:
    """The keyboard last shown on the console, so a typed label counts as a press."""

    __slots__ = ("keyboard",)

    def __init__(self) -> None:
        self.keyboard: Keyboard | None = None

    def payload(self, text: str) -> Any:
        """The payload of the shown text button labelled `text`, or None."""
        button = self.keyboard.find(text) if self.keyboard is not None else None
        return None if button is None or button.callback else button.payload


class StdinEvent(TextEvent):
    """A line typed on the console (or piped in), from the console user.

    A line that is the label of a button of the keyboard last shown arrives
    with that button's `payload`, as a press would.

    Attributes:
        role: the console user's role from ``[console] role``.
    """

    __slots__ = ("_out", "_prompt", "_shown", "role")

    def __init__(
        self,
        text: str,
        *,
        user_id: int,
        role: str,
        out: TextIO,
        prompt: Prompt | None = None,
        payload: Any = None,
        shown: ShownKeyboard | None = None,
    ) -> None:
        super().__init__(text, user_id=user_id, platform="console", bot=BOT_NAME, payload=payload)
        self.role = role
        self._out = out
        self._prompt = prompt
        self._shown = shown

    async def reply(self, text: str, **options: Any) -> None:
        """Write `text` to standard output, followed by a newline (above the prompt).

        A `Keyboard` passed as ``keyboard=`` is shown after the text, one line
        per row: ``[Yes] [No]``.
        """
        keyboard = options.get("keyboard")
        if self._shown is not None and isinstance(keyboard, Keyboard):
            self._shown.keyboard = keyboard or None
        write_above(self._out, self._prompt, with_keyboard(text, options))


def with_keyboard(text: str, options: dict[str, Any]) -> str:
    """`text` and a newline, then the labels of a `Keyboard` in `options`, a row a line."""
    keyboard = options.get("keyboard")
    if isinstance(keyboard, Keyboard) and keyboard:
        return f"{text}\n{keyboard.to_text()}\n"
    return f"{text}\n"


def write_above(out: TextIO, prompt: Prompt | None, text: str) -> None:
    """Write `text` to `out`, keeping the terminal's prompt (if any) below it."""
    if prompt is None:
        out.write(text)
        out.flush()
        return
    with prompt.above():
        out.write(text)
        out.flush()


class ConsoleAdapter(Adapter):
    """Reads standard input line by line; replies go to standard output.

    When standard input is a terminal a prompt is shown, and kept below the
    replies and logs that follow each line; when it is a pipe, nothing but
    replies is written to standard output. End of input ends the
    host (after in-flight events finish) when the console is the only adapter.
    """

    name = "console"
    ends_host = True

    def __init__(
        self, *, user_id: int, role: str, stdin: TextIO, stdout: TextIO, prompt: str = "> "
    ) -> None:
        self.user_id = user_id
        self.role = role
        self._in = stdin
        self._out = stdout
        self.prompt = Prompt(stdout, prompt) if _isatty(stdin) else None
        self.shown = ShownKeyboard()

    async def run(self, submit: Submit) -> None:
        """Read lines until end of input, submitting each non-empty one as a `StdinEvent`."""
        send, receive = anyio.create_memory_object_stream[str](max_buffer_size=16)
        token = anyio.lowlevel.current_token()

        def read_lines() -> None:
            # A daemon thread of its own: a read blocked on a terminal must never
            # keep the process from exiting, which a worker-pool thread would.
            try:
                for line in iter(self._in.readline, ""):
                    if self.prompt is not None:
                        self.prompt.line_ended()  # the prompt's line is the typed one now
                    anyio.from_thread.run(send.send, line, token=token)
            except Exception:
                return  # the host stopped listening (stream closed or loop gone)
            finally:
                with contextlib.suppress(Exception):
                    anyio.from_thread.run_sync(send.close, token=token)

        threading.Thread(target=read_lines, name="botrt-console-stdin", daemon=True).start()
        prompt = self.prompt
        with contextlib.ExitStack() as stack:
            if prompt is not None:
                stack.enter_context(logs_above(prompt))
                stack.callback(prompt.hide)  # input ended: what follows needs no prompt
            async with receive:
                self._show_prompt()
                async for line in receive:
                    text = line.rstrip("\r\n")
                    if text.strip():
                        event = StdinEvent(
                            text,
                            user_id=self.user_id,
                            role=self.role,
                            out=self._out,
                            prompt=prompt,
                            payload=self.shown.payload(text),
                            shown=self.shown,
                        )
                        await submit(event)
                    self._show_prompt()

    def _show_prompt(self) -> None:
        if self.prompt is not None:
            self.prompt.show()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
