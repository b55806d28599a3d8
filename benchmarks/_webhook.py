"""What the webhook benchmarks share: a server driver's process, started and stopped.

`Driver` runs one of ``drivers/*_webhook_server.py`` (under a wrapper such as
``taskset`` or ``valgrind`` when given), reads its ``READY <port>`` line, and
follows the ``{"replies": N}`` lines it prints while it handles updates.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from _peers import BOTRT_PYTHON

DRIVERS = Path(__file__).resolve().parent / "drivers"


class Driver:
    """One server driver process, listening on loopback.

    Attributes:
        proc: the process.
        port: the port it listens on.
        replies: the last reply count it printed.
    """

    def __init__(
        self,
        script: str,
        *args: str,
        wrapper: list[str] | None = None,
        pythonpath: str | None = None,
    ) -> None:
        """Start ``drivers/<script>`` and wait for its ``READY`` line.

        `pythonpath` (a copy of ``runtime/``) replaces the installed botrt.

        :raises RuntimeError: if the driver exits or prints anything else first.
        """
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if pythonpath is not None:
            env["PYTHONPATH"] = pythonpath
        cmd = [BOTRT_PYTHON, str(DRIVERS / script), *args]
        self.proc = subprocess.Popen(
            [*(wrapper or []), *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"{script} did not start: {line!r}")
        self.port = int(line.split()[1])
        self.replies = 0

    def wait_replies(self, expected: int, timeout: float) -> float | None:
        """Seconds until `expected` replies were reported, or None on timeout or exit."""
        assert self.proc.stdout is not None
        started = time.perf_counter()
        while self.replies < expected:
            if time.perf_counter() - started > timeout:
                return None
            line = self.proc.stdout.readline()
            if not line:
                return None
            if line.startswith("{"):
                self.replies = int(json.loads(line)["replies"])
        return time.perf_counter() - started

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then wait (kill after `timeout` seconds)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
