"""Files read and written safely: a clear message when a file cannot be read; no half-written file, ever.

A file is written to a temporary file in the same folder, flushed to disk, then
renamed over the target: a reader sees the old file or the new one, never a
part; if anything fails (a full disk, a kill), the old file is still there.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from pkrules.messages import reason, tr


def read_bytes(path, error: type[Exception], folder_hint: str) -> bytes:
    """A file's bytes, or `error` with a message a user can act on (no such file, a folder…)."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise error(tr("{path}: no such file", path=path)) from None
    except IsADirectoryError:
        raise error(tr("{path}: is a folder; {hint}", path=path, hint=folder_hint)) from None
    except OSError as e:
        raise error(tr("{path}: cannot read: {reason}", path=path, reason=reason(e))) from None


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside path for writing; on success it replaces path, on failure it is removed."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    binary = "b" in mode
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _keep_mode(target, temporary)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside path for a library that writes files itself (polars, openpyxl);
    it replaces path when the block ends without error, else it is removed."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=folder)
    os.close(fd)
    try:
        yield Path(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        _keep_mode(target, temporary)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _keep_mode(target: Path, temporary: str) -> None:
    """The new file gets the old one's permissions, or the usual ones (mkstemp makes it private)."""
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temporary, mode)
