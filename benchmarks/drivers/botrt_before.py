"""Run a botrt driver with botrt imported from another tree: the code before a change.

``python drivers/botrt_before.py DIR drivers/botrt_vk.py [args...]`` puts DIR (a copy
of ``runtime/`` holding the code before a change) first on ``sys.path``, then runs
the driver as its own ``__main__``, so a change is measured before and after in
one run (``vk_path.py --before DIR``; ``webhook.py`` sets ``PYTHONPATH`` instead).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: botrt_before.py DIR DRIVER [args...]")
    before, driver, *args = sys.argv[1:]
    if not (Path(before) / "botrt" / "__init__.py").is_file():
        raise SystemExit(f"{before} holds no botrt package (give a copy of runtime/)")
    sys.path.insert(0, str(Path(before).resolve()))
    script = Path(driver).resolve()
    sys.path.insert(0, str(script.parent))
    sys.argv = [str(script), *args]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
