"""On a terminal the console prompt stays below replies and logs; a pipe gets no prompt."""

from __future__ import annotations

import io
import logging
import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from botrt.adapter import Event
from botrt.protocols.console._adapter import ConsoleAdapter, StdinEvent
from botrt.protocols.console._prompt import ERASE_LINE

log = logging.getLogger("botrt.test.prompt")


@pytest.fixture
def terminal() -> Iterator[tuple[int, io.TextIOWrapper]]:
    """A real pseudo-terminal: the master's fd to type on, the slave as standard input."""
    master, slave = os.openpty()
    stdin = open(slave, encoding="utf-8", closefd=True)  # noqa: SIM115 (closed below)
    try:
        yield master, stdin
    finally:
        # The master first: a reader still blocked on the slave (a test that failed
        # before sending end of input) then gets an error instead of holding the
        # stream's lock, which would hang `stdin.close()`.
        os.close(master)
        stdin.close()


def render(output: str) -> list[str]:
    """What a terminal shows after `output`, line by line (ERASE_LINE empties the current line)."""
    lines = [""]
    rest = output
    while rest:
        erase = rest.find(ERASE_LINE)
        newline = rest.find("\n")
        if erase == -1 and newline == -1:
            lines[-1] += rest
            break
        if newline != -1 and (erase == -1 or newline < erase):
            lines[-1] += rest[:newline]
            lines.append("")
            rest = rest[newline + 1 :]
        else:
            lines[-1] += rest[:erase]
            lines[-1] = ""
            rest = rest[erase + len(ERASE_LINE) :]
    return lines


@pytest.mark.anyio
async def test_replies_and_logs_come_before_the_next_prompt(
    terminal: tuple[int, io.TextIOWrapper],
) -> None:
    master, stdin = terminal
    out = io.StringIO()
    handler = logging.StreamHandler(out)  # logs and replies share the terminal
    handler.setFormatter(logging.Formatter("LOG %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    adapter = ConsoleAdapter(user_id=1, role="admin", stdin=stdin, stdout=out)
    assert adapter.prompt is not None

    async def handle(event: StdinEvent) -> None:
        await anyio.lowlevel.checkpoint()  # handled later, as the host's queue does
        await event.reply(f"one: {event.text}")
        log.info("working on %s", event.text)
        await event.reply(f"two: {event.text}")
        done.set()

    try:
        async with anyio.create_task_group() as tg:

            async def submit(event: Event) -> None:
                assert isinstance(event, StdinEvent)
                tg.start_soon(handle, event)

            done = anyio.Event()
            tg.start_soon(adapter.run, submit)
            # Type only once the first prompt is drawn, as a person would: a line read
            # before it (the reader thread is quick) is never followed by a second one.
            with anyio.fail_after(30):
                while out.getvalue() != "> ":
                    await anyio.lowlevel.checkpoint()
            os.write(master, b"/a\n")
            await done.wait()
            # The terminal echoes "/a" and Enter after the first prompt (not part of `out`);
            # the next prompt is drawn at once and erased for each line written after it.
            p, e = "> ", ERASE_LINE
            assert out.getvalue() == (
                f"{p}{p}{e}one: /a\n{p}{e}LOG working on /a\n{p}{e}two: /a\n{p}"
            )
            assert render(out.getvalue()) == ["one: /a", "LOG working on /a", "two: /a", "> "]
            done = anyio.Event()
            os.write(master, b"/b\n")
            await done.wait()
            assert render(out.getvalue())[-4:] == [
                "one: /b",
                "LOG working on /b",
                "two: /b",
                "> ",
            ]
            os.write(master, b"\x04")  # Ctrl-D: end of input
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert out.getvalue().endswith(f"two: /b\n> {ERASE_LINE}"), "no prompt once input ends"
    assert not [h for h in root.handlers if type(h).__name__ == "_LogEdge"], "guards removed"


def test_a_pipe_gets_no_prompt(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("[plugins]\nbuiltin = true\n", encoding="utf-8")
    out = subprocess.run(
        ["botrt", "serve", "--no-reload"],
        input="/help help\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert ">" not in out.stdout
    assert ERASE_LINE not in out.stdout


def test_serve_on_a_terminal_ends_each_answer_with_a_prompt(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("[plugins]\nbuiltin = true\n", encoding="utf-8")
    master, slave = os.openpty()
    proc = subprocess.Popen(
        ["botrt", "serve", "--no-reload"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # logs and replies share the terminal
        cwd=tmp_path,
    )
    os.close(slave)
    assert proc.stdout is not None
    seen = b""

    def read_until(done: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60  # a bound against hanging, not a speed check
        while render(seen.decode())[-1] != "> " or done not in seen:
            ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            assert ready, f"no prompt after {done!r}: {seen!r}"
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, f"output ended: {seen!r}"
            seen += chunk

    try:
        read_until(b"plugin help 1.0.0 loaded")
        os.write(master, b"/help help\n")
        read_until(b"/help [COMMAND]")
        shown = render(seen.decode())
        assert shown[-1] == "> "
        assert any("/help [COMMAND]" in line for line in shown[:-1])
        os.write(master, b"\x04")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        proc.stdout.close()
