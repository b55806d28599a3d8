"""The speed extra in a driver: the loop `botrt serve` would run, or (``--pure``) neither extra.

``--pure`` (taken out of ``sys.argv``) makes orjson and uvloop unimportable in
this interpreter, so one venv with ``botrt[speed]`` measures both installs.
Call `loop_options` before botrt first reads or writes JSON (it chooses lazily).
"""

from __future__ import annotations

import sys
from typing import Any


def loop_options() -> dict[str, Any]:
    """anyio's backend options for this driver, as `botrt serve` picks them."""
    if "--pure" in sys.argv:
        sys.argv.remove("--pure")
        sys.modules["orjson"] = None  # type: ignore[assignment]
        sys.modules["uvloop"] = None  # type: ignore[assignment]
    from botrt.cli._serve import loop_options as serve_options

    return serve_options()
