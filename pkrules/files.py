"""Files read and written safely: a clear message when a file cannot be read; no half-written file, ever.

A file is written to a temporary file in the same folder, flushed to disk, then
renamed over the target: a reader sees the old file or the new one, never a
part; if anything fails (a full disk, a kill), the old file is still there.
Only regular files are read (never a device such as /dev/zero, which has no
end, nor a FIFO, which can wait forever), and only up to a size when asked.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from pkrules.errors import PkrulesError
from pkrules.messages import reason, tr


class OutputError(PkrulesError):
    """A file that cannot be written (a full disk, no permission, a folder in the way); the old one is intact."""


def _open_regular(path: Path, error: type[Exception], folder_hint: str) -> tuple[int, os.stat_result]:
    """A file descriptor of a regular file, or `error`. O_NONBLOCK: opening a FIFO must not wait for a writer."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(tr("{path}: no such file", path=path)) from None
    except IsADirectoryError:
        raise error(tr("{path}: is a folder; {hint}", path=path, hint=folder_hint)) from None
    except OSError as e:
        raise error(tr("{path}: cannot read: {reason}", path=path, reason=reason(e))) from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        os.close(fd)
        raise error(tr("{path}: is a folder; {hint}", path=path, hint=folder_hint))
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise error(tr("{path}: not a regular file (a device, a pipe or a socket); save the data to a file and name that",
                       path=path))
    return fd, info


def require_regular(path: str | Path, error: type[Exception], folder_hint: str) -> None:
    """Raise `error` unless path is a regular file (for libraries that open files themselves)."""
    fd, _ = _open_regular(Path(path), error, folder_hint)
    os.close(fd)


def read_bytes(path, error: type[Exception], folder_hint: str, limit: int | None = None) -> bytes:
    """A regular file's bytes, or `error` with a message a user can act on (no such file, a folder, a device,
    larger than limit bytes…)."""
    path = Path(path)
    fd, info = _open_regular(path, error, folder_hint)
    try:
        if limit is not None and info.st_size > limit:
            raise error(tr("{path}: {size} is larger than the {limit} such a file may have",
                           path=path, size=megabytes(info.st_size), limit=megabytes(limit)))
        os.set_blocking(fd, True)
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:  # it grew while being read
                raise error(tr("{path}: {size} is larger than the {limit} such a file may have",
                               path=path, size=megabytes(total), limit=megabytes(limit)))
        return b"".join(chunks)
    except OSError as e:
        raise error(tr("{path}: cannot read: {reason}", path=path, reason=reason(e))) from None
    finally:
        os.close(fd)


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB" if size >= 100_000 else f"{size:,} bytes"


# ---- writing ---------------------------------------------------------------------------------


def write_problem(error: OSError, path: str | Path) -> str:
    """Why path could not be written, in the user's words (never "None")."""
    code = error.errno
    if code == getattr(errno, "EDQUOT", -1):
        return tr("the disk quota is used up")
    if code == errno.EFBIG:
        return tr("the file would be larger than this file system (or a limit on file sizes) allows")
    if code == errno.EISDIR or Path(path).is_dir():
        return tr("it is a folder; name a file in it (such as {example})", example=Path(path) / "results.csv")
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocking = _file_in_the_way(Path(path))
        if blocking is not None:
            return tr("{blocking} is a file, not a folder", blocking=blocking)
    if code == errno.ENOENT:
        return tr("its folder does not exist")
    if code is None and not error.strerror:
        return str(error) or type(error).__name__
    return reason(error)  # the disk is full, permission denied, read-only… (messages/__init__.py)


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest parent of path that exists and is not a folder."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def cannot_write(path: str | Path, error: OSError, existed: bool) -> OutputError:
    """The OutputError for a failed write: what happened, and that the old file is intact (or nothing was written)."""
    why = write_problem(error, path)
    if existed:
        return OutputError(tr("cannot write {path}: {why}; the file was left as it was", path=path, why=why))
    return OutputError(tr("cannot write {path}: {why}; nothing was written", path=path, why=why))


def prepare_output(path: str | Path) -> Path:
    """Before a long computation: the output's folder exists (made if needed) and path is not a folder;
    else OutputError."""
    target = Path(path)
    if str(path).endswith(("/", os.sep)) or target.is_dir():
        raise OutputError(tr("cannot write {path}: {why}", path=path,
                             why=tr("it is a folder; name a file in it (such as {example})",
                                    example=target / "results.csv")))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise cannot_write(path, e, target.exists()) from None
    return target


def prepare_folder(path: str | Path) -> Path:
    """A folder to write files into: made if needed; else OutputError (a file in the way, no permission)."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(tr("cannot write into {path}: it is a file, not a folder", path=path)) from None
    except OSError as e:
        raise OutputError(tr("cannot write into {path}: {why}", path=path, why=write_problem(e, path))) from None
    return folder


def private_cache_folder(*parts: str) -> Path | None:
    """The folder parts under the user's cache folder (XDG_CACHE_HOME, else ~/.cache): made for the user alone,
    each of pkrules' own folders narrowed to the user when another could write into it (a umask of 002
    makes them so). None when PKRULES_NO_CACHE is set (nothing is kept), when it cannot be made, or when it
    is not the user's own: what is kept there is read back as code (pickles), so a folder another user
    could write into is not used."""
    if os.environ.get("PKRULES_NO_CACHE", "").strip() not in ("", "0"):
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"))
    folder = base
    try:
        for part in parts:
            folder = folder / part
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            facts = folder.stat()
            if hasattr(os, "getuid"):
                if facts.st_uid != os.getuid():
                    return None
                if facts.st_mode & 0o022:
                    os.chmod(folder, facts.st_mode & 0o755)
    except OSError:
        return None
    return folder


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (through links, .., another spelling); False when either does not exist."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


@contextmanager
def writing(path: str | Path) -> Iterator[Path]:
    """Around an atomic write: any OSError becomes OutputError saying what happened and that the old file is intact."""
    existed = Path(path).exists()
    try:
        yield Path(path)
    except OSError as e:
        raise cannot_write(path, e, existed) from None


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside path for writing; on success it replaces path, on failure it is removed."""
    target = _through_links(Path(path))
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
        _sync_folder(folder)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


class AtomicBatch:
    """Many files, each written whole: every one goes to a hidden work folder beside its target (one per target
    folder: the same file system, so a rename puts it in place); when all are written they are flushed to disk
    together and renamed into place. A failure (or an exception in the block) removes the work folders and
    leaves every old file as it was; a kill leaves one hidden folder, not a temporary file per statement.

    One flush for the batch, not two per file: 2,000 statements took seconds of disk waits when each
    file was synced (and its folder after it) on its own.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []  # (temporary, target), in the order written
        self._work: dict[Path, Path] = {}  # target folder → its work folder

    def write(self, path: str | Path, text: str, encoding: str = "utf-8") -> None:
        target = _through_links(Path(path))
        folder = target.parent if str(target.parent) else Path(".")
        work = self._work.get(folder)
        if work is None:
            work = self._work[folder] = Path(tempfile.mkdtemp(prefix=".pkrules-writing-", dir=folder))
        temporary = work / f"{len(self._pending)}.part"
        self._pending.append((temporary, target))
        with open(temporary, "x", encoding=encoding) as handle:
            handle.write(text)

    def _commit(self) -> None:
        sync = getattr(os, "sync", None)
        if sync is not None:
            sync()  # every temporary file's data on disk at once
        else:  # (no sync(): one file at a time)
            for temporary, _ in self._pending:
                with open(temporary, "rb") as handle:
                    os.fsync(handle.fileno())
        for temporary, target in self._pending:
            _keep_mode(target, str(temporary))
            os.replace(temporary, target)
        for folder, work in self._work.items():
            work.rmdir()  # (empty now)
            _sync_folder(folder)

    def _discard(self) -> None:
        import shutil

        for work in self._work.values():
            shutil.rmtree(work, ignore_errors=True)


@contextmanager
def atomic_batch() -> Iterator[AtomicBatch]:
    """A batch of files written whole (AtomicBatch): in place when the block ends without error."""
    batch = AtomicBatch()
    try:
        yield batch
        batch._commit()
    except BaseException:
        batch._discard()
        raise


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside path for a library that writes files itself (polars, openpyxl);
    it replaces path when the block ends without error, else it is removed."""
    target = _through_links(Path(path))
    folder = target.parent if str(target.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=folder)
    os.close(fd)
    try:
        yield Path(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        _keep_mode(target, temporary)
        os.replace(temporary, target)
        _sync_folder(folder)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


@contextmanager
def quiet_cleanup() -> Iterator[None]:
    """Around a library's writer (openpyxl): when a write fails, the library's half-closed generators complain
    ("Exception ignored in …", with a traceback) as they are collected, even at exit. The failure itself is
    reported (as an OSError without the library's frames), so those echoes are collected here, silently."""
    import gc
    import sys
    import traceback

    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    failure = None
    try:
        yield
    except OSError as e:
        failure = OSError(e.errno, e.strerror)
        traceback.clear_frames(e.__traceback__)  # lets the library's generators go now, while we listen
    finally:
        gc.collect()
        sys.unraisablehook = hook
    if failure is not None:
        raise failure


def _through_links(path: Path) -> Path:
    """The file a symbolic link points to: writing replaces that file and keeps the link (as `>` in a shell does)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _sync_folder(folder: Path) -> None:
    """Flush the rename itself to disk (a crash just after it must not bring back the old file's entry)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the data itself is synced
    finally:
        os.close(fd)


def _keep_mode(target: Path, temporary: str) -> None:
    """The new file gets the old one's permissions, or the usual ones (mkstemp makes it private)."""
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temporary, mode)
