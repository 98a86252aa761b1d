"""Checked policies kept between commands: the same policy text, checked by the same pkrules, is parsed once.

A command that runs a policy spends a tenth of a second before it reads any data: loading the parser,
parsing, checking. Most commands run a policy that has not changed since the last one, so the checked
policy (its rule graph and diagnostics) is kept in the user's cache folder, beside the parser's own
tables (language/grammar.py), and read back in a few milliseconds.

What a kept policy is found by: the policy's text and path as given, the language its messages are
in, and pkrules itself (its version, and the size and time of every one of its files, so that an
upgrade or an edit of pkrules never reads a policy checked by other code). A policy that reads lookup
files is not kept: those files may change under an unchanged policy. Only checks without errors are
kept; errors are worked out afresh. Set PKRULES_NO_CACHE=1 to keep nothing.

The folder is the user's own (~/.cache/pkrules/policies, or under XDG_CACHE_HOME): a file there that
another user could have written is not read. Anything unreadable, stale or broken there is ignored
and the policy is checked as if nothing were kept; at most MAX_KEPT policies are kept.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from pkrules.language.diagnostics import Diagnostic
from pkrules.language.rule_graph import RuleGraph
from pkrules.language.source import SourceFile
from pkrules.messages import current_language

FORMAT = 1  # of a kept file: raised when what is kept changes shape
MAX_KEPT = 200

Checked = tuple[RuleGraph | None, list[Diagnostic]]


def reuse_or_check(source: SourceFile, check: Callable[[SourceFile], Checked]) -> Checked:
    """check(source), or what it gave before for the same policy, language and pkrules."""
    folder = cache_folder()
    if folder is None:
        return check(source)
    path = folder / f"policy-{_key(source)}.pickle"
    kept = _read(path)
    if kept is not None and kept[0].source == source:  # (the very text: a guard beside the file's name)
        return kept
    graph, diagnostics = check(source)
    if graph is not None and not _reads_files(graph):
        _keep(path, (graph, diagnostics))
    return graph, diagnostics


def cache_folder() -> Path | None:
    """The folder of kept policies, made if need be; None when nothing is to be kept or it cannot be made."""
    from pkrules.files import private_cache_folder

    return private_cache_folder("pkrules", "policies")


def _key(source: SourceFile) -> str:
    digest = hashlib.sha256()
    for part in (str(FORMAT), _pkrules_itself(), source.path, current_language(), source.text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


@lru_cache(maxsize=1)
def _pkrules_itself() -> str:
    """pkrules' version and Python's, with the size and modification time of every file of pkrules, of its
    grammar and of lark's __init__ (lark's version): what a kept check depends on besides the policy."""
    import pkrules

    package = Path(pkrules.__file__).resolve().parent
    parts = [pkrules.__version__, sys.version]
    candidates = [package / "_grammar" / "pkrules.lark", package.parent / "grammar" / "pkrules.lark"]
    lark = find_spec("lark")  # (found, not imported: the parser that made the check, by its files' stamps)
    if lark is not None and lark.origin:
        candidates.append(Path(lark.origin))
    for folder, subfolders, files in os.walk(package):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        candidates += [Path(folder) / name for name in sorted(files) if name.endswith(".py")]
    for path in candidates:
        try:
            facts = path.stat()
        except OSError:
            continue
        parts.append(f"{path}:{facts.st_size}:{facts.st_mtime_ns}")
    return "\n".join(parts)


def _reads_files(graph: RuleGraph) -> bool:
    from pkrules.language import ast

    return any(isinstance(d, ast.Lookup) and d.file for d in graph.policy.declarations)


def _ours(facts: os.stat_result) -> bool:
    """Owned by this user and writable by no one else (where the system has owners)."""
    if not hasattr(os, "getuid"):
        return True
    return facts.st_uid == os.getuid() and not facts.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(path: Path) -> Checked | None:
    try:
        with open(path, "rb") as file:
            if not _ours(os.fstat(file.fileno())):
                return None
            kept = pickle.load(file)
        graph, diagnostics = kept
        if not isinstance(graph, RuleGraph) or not isinstance(diagnostics, list):
            raise TypeError("not a kept check")
    except FileNotFoundError:
        return None
    except Exception:  # broken, or from other code: check afresh, and keep that instead
        _remove(path)
        return None
    try:
        os.utime(path)  # recently used: the last to be pruned
    except OSError:
        pass
    return graph, diagnostics


def _keep(path: Path, checked: Checked) -> None:
    """Write the kept check whole (a reader sees the old file or the new one, never half), then prune."""
    try:
        data = pickle.dumps(checked, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # (a graph that cannot be copied is simply checked every time)
        return
    try:
        handle, temporary = tempfile.mkstemp(prefix=".writing-", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        _remove(Path(temporary))
        return
    _prune(path.parent)


def _prune(folder: Path) -> None:
    """At most MAX_KEPT checks, the most recently used; and no file left half-written an hour ago (a command
    killed while it wrote one)."""
    import time

    kept, stale = [], time.time_ns() - 3600 * 10**9
    try:
        for entry in os.scandir(folder):
            if entry.name.startswith("policy-") and entry.name.endswith(".pickle"):
                kept.append((entry.stat().st_mtime_ns, entry.path))
            elif entry.name.startswith(".writing-") and entry.stat().st_mtime_ns < stale:
                _remove(Path(entry.path))
    except OSError:
        return
    if len(kept) > MAX_KEPT:
        for _, path in sorted(kept)[:len(kept) - MAX_KEPT]:
            _remove(Path(path))


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
