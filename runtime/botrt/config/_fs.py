"""File-system helpers: paths relative to ``bot.toml``, and atomic rewrites of it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def absolute_path(text: str, base_dir: Path) -> Path:
    """`text` as an absolute, normalised path; relative ones are taken from `base_dir`.

    ``~`` is expanded. Symlinks are not resolved: the user's spelling is kept.
    """
    path = Path(text)
    with contextlib.suppress(RuntimeError):  # no home folder for "~": keep it as written
        path = path.expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(base_dir / path))


def write_atomically(path: Path, data: bytes) -> None:
    """Replace the file at `path` with `data`, so readers see the old or the new file, whole.

    The temporary file sits in the same folder (``os.replace`` is atomic only within
    one file system) and takes over the old file's permission bits.

    :raises OSError: if the folder is not writable or the disk is full.
    """
    try:
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
