"""The peers' virtual environments, and running a driver script in a fresh interpreter.

Each peer gets its own venv under ``benchmarks/.venvs/`` (peers pin shared
dependencies incompatibly, and none of them may touch botrt's own venv),
created with ``python -m venv`` and filled with ``pip install`` from the
package index the first time a benchmark needs it. A driver prints its figures
as one JSON line, the last of its standard output.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
PEERS: dict[str, str] = {
    "melobot": "melobot[console]==3.5.1",
    "vkbottle": "vkbottle==4.11.0",
    "vkflow": "vkflow==1.2.0",
}
BOTRT_PYTHON = sys.executable


class DriverError(RuntimeError):
    """A driver script failed or printed no figures; the message ends with its stderr."""


def peer_python(name: str) -> str:
    """The python of peer `name`'s venv, creating the venv and installing the peer if needed.

    :raises subprocess.CalledProcessError: if ``venv`` or ``pip install`` fails.
    """
    spec = PEERS[name]
    venv = VENVS / name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.exists() and marker.read_text(encoding="utf-8") == spec and python.exists():
        return str(python)
    print(f"installing {spec} into {venv.relative_to(HERE.parent)} ...", file=sys.stderr)
    # The base interpreter, not botrt's venv: a venv made from a venv links to the base anyway,
    # and nothing of botrt's environment must leak into the peer's.
    base = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base), "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", spec], check=True, env=_clean_env()
    )
    marker.write_text(spec, encoding="utf-8")
    return str(python)


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(key, None)
    return env


def run_driver(
    python: str, script: str, args: Sequence[str] = (), timeout: float = 900
) -> dict[str, Any]:
    """Run ``benchmarks/<script>`` with `python` in a fresh interpreter; its JSON figures.

    :raises DriverError: if it exits non-zero, or its last line of output is not JSON.
    """
    cmd = [python, str(HERE / script), *args]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=_clean_env(), cwd=HERE
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise DriverError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    try:
        return dict(json.loads(lines[-1]))
    except ValueError:
        raise DriverError(f"{' '.join(cmd)} printed no figures:\n{proc.stdout[-2000:]}") from None


def median(values: Sequence[float]) -> float:
    """The median (of an odd number of trials, one of them)."""
    return float(statistics.median(values))


def load_line() -> str:
    """The 1-minute load average, to show how busy the machine was."""
    try:
        return f"load average {os.getloadavg()[0]:.1f}"
    except OSError:
        return "load average unknown"


@dataclass(frozen=True)
class Contender:
    """One line of a comparison: a driver script run with one venv's python.

    `kind` is ``"botrt"`` (the figure the others are compared with),
    ``"botrt-extra"`` (botrt measured another way, shown beside it), ``"peer"``
    or ``"floor"``; `venv` is ``"botrt"`` or a peer's name.
    """

    key: str
    label: str
    kind: str
    venv: str
    script: str
    args: tuple[str, ...] = ()

    def python(self) -> str:
        """The interpreter to run the driver with (installing the peer on first use)."""
        return BOTRT_PYTHON if self.venv == "botrt" else peer_python(self.venv)


Trials = dict[str, list[dict[str, Any]]]
"""Per contender key, each trial's figures (``events_per_s``, ``events_per_cpu_s``, ...)."""


def round_robin(plan: Sequence[Contender], trials: int, args: Sequence[str] = ()) -> Trials:
    """Run every contender `trials` times, trial 1 of each, then trial 2 of each, ...

    So a busy spell on the machine hits them alike. Each run is a fresh interpreter.
    """
    figures: Trials = {c.key: [] for c in plan}
    for trial in range(1, trials + 1):
        for c in plan:
            result = run_driver(c.python(), c.script, (*c.args, *args))
            figures[c.key].append(result)
            print(
                f"trial {trial}/{trials} {c.label}: {result['events_per_s']:,.0f} ev/s, "
                f"{result.get('events_per_cpu_s', 0):,.0f} ev/CPU-s",
                file=sys.stderr,
                flush=True,
            )
    return figures


def medians(runs: Sequence[dict[str, Any]], key: str) -> float:
    """The median of figure `key` over `runs`."""
    return median([r[key] for r in runs])
