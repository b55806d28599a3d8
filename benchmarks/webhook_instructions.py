"""Webhook cost in instructions: what one Callback API request costs each server, counted
by callgrind, which a busy machine does not disturb (unlike requests/s and CPU time).

Run: ``.venv/bin/python benchmarks/webhook_instructions.py [--requests 1000] [--before DIR]``
(writes the ``webhook-instructions`` section of docs/benchmarks.md). Needs valgrind.

Each server of ``webhook.py`` (the floor, botrt with its 50 replying commands,
and with ``--before DIR`` botrt from a copy of ``runtime/`` before a change) runs
under ``valgrind --tool=callgrind`` with counting off; after 200 warm-up
requests counting is switched on (``callgrind_control -i on``), `--requests`
distinct ``message_new`` updates are posted (8 at a time, the body of
``webhook.py``), botrt's replies to all of them are awaited, and counting is
switched off. Instructions per request = the instructions counted ÷ the
requests: everything the server process did for them, the reply included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BOTRT_PYTHON
from _report import machine_line, write_section

HERE = Path(__file__).resolve().parent
WARMUP = 200
CONCURRENCY = 8


def body(run: str, n: int) -> bytes:
    """The update `webhook.py`'s wrk script posts as its n-th request."""
    user = 1000 + n % 100
    message = {
        "date": 1700000000,
        "from_id": user,
        "id": n,
        "out": 0,
        "peer_id": user,
        "text": f"/cmd{n % 50:02d}",
        "conversation_message_id": n,
        "fwd_messages": [],
        "important": False,
        "random_id": 0,
        "attachments": [],
        "is_hidden": False,
        "version": 10000001,
    }
    client_info = {
        "button_actions": ["text"],
        "keyboard": True,
        "inline_keyboard": True,
        "carousel": True,
        "lang_id": 0,
    }
    update = {
        "type": "message_new",
        "group_id": 1,
        "event_id": f"{run}-{n}",
        "v": "5.199",
        "secret": "s3cret",
        "object": {"message": message, "client_info": client_info},
    }
    return json.dumps(update, separators=(",", ":")).encode()


async def post_all(port: int, run: str, count: int) -> None:
    url = f"http://127.0.0.1:{port}/vk/bench"
    queue = iter(range(count))
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for n in queue:
                async with session.post(
                    url, data=body(run, n), headers={"Content-Type": "application/json"}
                ) as response:
                    if response.status != 200 or await response.text() != "ok":
                        raise SystemExit(f"request {n}: HTTP {response.status}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


class Counted:
    """One server under callgrind, counting off until `measure`."""

    def __init__(self, script: str, out: Path, pythonpath: str | None) -> None:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if pythonpath is not None:
            env["PYTHONPATH"] = pythonpath
        self.out = out
        self.proc = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                BOTRT_PYTHON,
                str(HERE / "drivers" / script),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"{script} did not start under valgrind: {line!r}")
        self.port = int(line.split()[1])
        self.replies = 0

    def wait_replies(self, expected: int, timeout: float = 600) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while self.replies < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.replies} of {expected} replies")
            match = re.match(r'\{"replies": (\d+)\}', self.proc.stdout.readline())
            if match:
                self.replies = int(match[1])

    def control(self, *args: str) -> None:
        subprocess.run(
            ["callgrind_control", *args, str(self.proc.pid)], check=True, capture_output=True
        )

    def stop(self) -> int:
        """Stop the server; the instructions counted while counting was on."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=600)
        totals = [
            int(line.split()[1])
            for path in self.out.parent.glob(self.out.name + "*")
            for line in path.read_text().splitlines()
            if line.startswith(("summary:", "totals:"))
        ]
        return max(totals)


def measure(script: str, requests: int, replying: bool, pythonpath: str | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        server = Counted(script, Path(tmp) / "callgrind.out", pythonpath)
        try:
            asyncio.run(post_all(server.port, "w", WARMUP))
            if replying:
                server.wait_replies(WARMUP)
            server.control("-i", "on")
            asyncio.run(post_all(server.port, "t", requests))
            if replying:
                server.wait_replies(WARMUP + requests)
            server.control("-i", "off")
        except BaseException:
            server.proc.kill()
            raise
        return server.stop() / requests


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--before", metavar="DIR", help="also botrt from DIR, a copy of runtime/")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    servers = [
        (
            "floor",
            "the floor: bare aiohttp, reads the body, answers `ok`",
            "floor_webhook_server.py",
        ),
        (
            "botrt",
            "botrt: real host, VK callback route, 50 commands replying",
            "botrt_webhook_server.py",
        ),
    ]
    if args.before:
        servers.append(
            ("before", "botrt before the change (`--before`): the same", "botrt_webhook_server.py")
        )
    counts: dict[str, float] = {}
    labels = {}
    for key, label, script in servers:
        counts[key] = measure(
            script, args.requests, key != "floor", args.before if key == "before" else None
        )
        labels[key] = label
        print(f"{key}: {counts[key]:,.0f} instructions/request", file=sys.stderr, flush=True)
    rows = "\n".join(
        f"| {labels[k]} | {v:,.0f} | {counts['floor'] / v:.0%} |" for k, v in counts.items()
    )
    command = f"--requests {args.requests}" + (" --before DIR" if args.before else "")
    after = ""
    if args.before:
        after = (
            f"\n- botrt after ÷ before the change, in requests per instruction: "
            f"**{counts['before'] / counts['botrt']:.2f}×**"
        )
    text = f"""## Webhook cost in instructions (callgrind)

Command: `.venv/bin/python benchmarks/webhook_instructions.py {command}`
Machine: {machine_line()}; callgrind's counts do not depend on the machine's load.

Each server under callgrind, counting only while {args.requests:,} distinct
`message_new` updates are posted (8 at a time, after {WARMUP} warm-up requests)
and, for botrt, until every one of them has been replied to (through `VkApi`
onto the in-memory session of `drivers/botrt_webhook_server.py`).

| server | instructions per request | requests per instruction, ÷ the floor's |
| --- | ---: | ---: |
{rows}
{after}
"""
    if not args.no_write:
        write_section("webhook-instructions", text)
    print(text)


if __name__ == "__main__":
    main()
