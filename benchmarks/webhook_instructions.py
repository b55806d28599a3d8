"""Webhook cost in instructions: what one Callback API request costs each server, counted
by callgrind, which a busy machine does not disturb (unlike requests/s and CPU time).

Run: ``.venv/bin/python benchmarks/webhook_instructions.py [--requests 1000] [--parts]
[--before DIR] [--keep DIR]`` (writes the ``webhook-instructions`` section of
docs/benchmarks.md). Needs valgrind.

Each server of ``webhook.py`` (the floor, botrt with its 50 replying commands,
and with ``--before DIR`` botrt from a copy of ``runtime/`` before a change) runs
under ``valgrind --tool=callgrind`` with counting off; after 200 warm-up
requests counting is switched on (``callgrind_control -i on``), `--requests`
distinct ``message_new`` updates are posted (8 at a time, the body of
``webhook.py``), botrt's replies to all of them are awaited, and counting is
switched off. Instructions per request = the instructions counted ÷ the
requests: everything the server process did for them, the reply included.

``--parts`` also counts botrt's route alone (the driver's ``--drop``: recorded,
``ok``, handed over, then dropped), with and without the inbox, and writes
botrt's instructions per request in shares: aiohttp (the floor), the route
before ``ok``, the inbox's write, handling after ``ok``. ``--keep DIR`` keeps
each server's callgrind output in ``DIR/<server>/`` (for ``callgrind_annotate``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine_line, write_section
from _webhook import Driver

HERE = Path(__file__).resolve().parent
WARMUP = 200
IDLE = 3.0
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


class Counted(Driver):
    """One server under callgrind, counting off until `control("-i", "on")`."""

    def __init__(self, script: str, args: list[str], out: Path, pythonpath: str | None) -> None:
        valgrind = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
        ]
        super().__init__(script, *args, wrapper=valgrind, pythonpath=pythonpath)
        self.out = out

    def control(self, *args: str) -> None:
        subprocess.run(
            ["callgrind_control", *args, str(self.proc.pid)], check=True, capture_output=True
        )

    def counted(self) -> tuple[int, int]:
        """Stop the server; the instructions counted before the dump, and after it."""
        self.stop(timeout=600)

        def total(path: Path) -> int:
            # `totals:` is the part's own count (`summary:` may run from the start).
            lines = path.read_text().splitlines()
            return sum(int(x.split()[1]) for x in lines if x.startswith("totals:"))

        dumps = sorted(self.out.parent.glob(self.out.name + ".*"))
        return sum(total(path) for path in dumps), total(self.out)


@dataclass
class Count:
    """One server's count: instructions per request, and the background taken out of it."""

    per_request: float
    background: float


def measure(
    script: str,
    requests: int,
    replying: bool,
    pythonpath: str | None,
    args: Sequence[str] = (),
    keep: Path | None = None,
) -> Count:
    """Instructions per request of one server; its callgrind output copied to `keep`.

    First `IDLE` seconds are counted with no request (what the server does per
    second on its own: timers, the driver's reports); that rate times the
    requests' duration is taken out of their count, since under callgrind a
    request lasts about 50 times longer than without, and so would its share.
    """
    with tempfile.TemporaryDirectory() as tmp:
        server = Counted(script, list(args), Path(tmp) / "callgrind.out", pythonpath)
        try:
            asyncio.run(post_all(server.port, "w", WARMUP))
            if replying:
                wait_replies(server, WARMUP)
            server.control("-i", "on")
            time.sleep(IDLE)
            server.control("-d")  # dumps, and counts from zero again
            started = time.monotonic()
            asyncio.run(post_all(server.port, "t", requests))
            if replying:
                wait_replies(server, WARMUP + requests)
            server.control("-i", "off")
            busy = time.monotonic() - started
        except BaseException:
            server.proc.kill()
            raise
        idle, count = server.counted()
        if keep is not None:
            for path in Path(tmp).glob("callgrind.out*"):
                shutil.copy(path, keep)
        background = idle / IDLE * busy
        return Count((count - background) / requests, background / requests)


def wait_replies(server: Counted, expected: int) -> None:
    if server.wait_replies(expected, timeout=600) is None:
        server.proc.kill()
        raise RuntimeError(f"{server.replies} of {expected} replies")


FLOOR = ("the floor: bare aiohttp, reads the body, answers `ok`", "floor_webhook_server.py", ())
BOTRT = "botrt_webhook_server.py"
SERVERS = {
    "floor": FLOOR,
    "botrt": ("botrt: real host, VK callback route, 50 commands replying", BOTRT, ()),
}
PARTS = {
    "drop": (
        "botrt, the route alone: recorded in the inbox, `ok`, handed over, dropped (`--drop`)",
        BOTRT,
        ("--drop",),
    ),
    "drop-no-inbox": (
        "botrt, the route alone without the inbox (`--drop --no-inbox`)",
        BOTRT,
        ("--drop", "--no-inbox"),
    ),
}
BEFORE = ("botrt before the change (`--before`): the same", BOTRT, ())


def shares(counts: dict[str, float]) -> str:
    """Where botrt's instructions per request go, from the `PARTS` servers' counts."""
    total = counts["botrt"]
    parts = [
        ("aiohttp: parsing the request, writing the response (the floor)", counts["floor"]),
        (
            "the route before `ok` without the inbox (read, JSON, checks, the secret cut, "
            "the response) and the hand-over",
            counts["drop-no-inbox"] - counts["floor"],
        ),
        ("the inbox's durable write (group commit)", counts["drop"] - counts["drop-no-inbox"]),
        (
            "handling after `ok` (parsing into an event, queue, lanes, the flow, the reply, "
            "the handled marks)",
            total - counts["drop"],
        ),
    ]
    rows = "\n".join(f"| {name} | {n:,.0f} | {n / total:.0%} |" for name, n in parts)
    return (
        "\n| part of botrt's request | instructions per request | share |\n"
        "| --- | ---: | ---: |\n" + rows + "\n"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--before", metavar="DIR", help="also botrt from DIR, a copy of runtime/")
    p.add_argument(
        "--parts", action="store_true", help="also the route alone (--drop), for the shares"
    )
    p.add_argument("--keep", metavar="DIR", type=Path, help="keep callgrind's outputs in DIR")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    servers = dict(SERVERS)
    if args.parts:
        servers.update(PARTS)
    if args.before:
        servers["before"] = BEFORE
    measured: dict[str, Count] = {}
    for key, (_, script, extra) in servers.items():
        keep = None
        if args.keep is not None:
            keep = args.keep / key
            keep.mkdir(parents=True, exist_ok=True)
        measured[key] = measure(
            script,
            args.requests,
            key != "floor",
            args.before if key == "before" else None,
            extra,
            keep,
        )
        m = measured[key]
        print(
            f"{key}: {m.per_request:,.0f} instructions/request "
            f"({m.background:,.0f} of background taken out)",
            file=sys.stderr,
            flush=True,
        )
    counts = {key: m.per_request for key, m in measured.items()}
    rows = "\n".join(
        f"| {servers[k][0]} | {v:,.0f} | {measured[k].background:,.0f} | "
        f"{counts['floor'] / v:.0%} |"
        for k, v in counts.items()
    )
    command = f"--requests {args.requests}"
    command += " --parts" if args.parts else ""
    command += " --before DIR" if args.before else ""
    after = ""
    if args.before:
        after = (
            f"\n- botrt after ÷ before the change, in requests per instruction: "
            f"**{counts['before'] / counts['botrt']:.2f}×**\n"
        )
    text = f"""## Webhook cost in instructions (callgrind)

Command: `.venv/bin/python benchmarks/webhook_instructions.py {command}`
Machine: {machine_line()}; callgrind's counts do not depend on the machine's load.

Each server under callgrind, counting only while {args.requests:,} distinct
`message_new` updates are posted ({CONCURRENCY} at a time, after {WARMUP} warm-up requests)
and, for botrt, until every one of them has been replied to (through `VkApi`
onto the in-memory session of `drivers/botrt_webhook_server.py`), or with
`--drop`, handed over by the route. Before that, {IDLE:.0f} s without requests are
counted: what the server does per second on its own (timers, the driver's
reports), times the requests' duration, is taken out of their count (under
callgrind a request lasts about 50 times longer than without, and so would its
share of that background); the column "background" says how much that was.

| server | instructions per request | background taken out | requests per instruction, ÷ floor |
| --- | ---: | ---: | ---: |
{rows}
{after}{shares(counts) if args.parts else ""}"""
    if not args.no_write:
        write_section("webhook-instructions", text)
    print(text)


if __name__ == "__main__":
    main()
