"""`botrt serve` runs on uvloop when installed (``botrt[speed]``), else on asyncio's loop."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import anyio
import pytest

from botrt.cli._serve import loop_options

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


def test_without_uvloop_serve_keeps_asyncio_s_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert loop_options() == {}


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed (the speed extra)")
def test_with_uvloop_serve_runs_on_it() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert anyio.run(loop_module, backend_options=loop_options()).startswith("uvloop")
