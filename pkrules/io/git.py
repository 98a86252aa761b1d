"""Reading a policy (or a data file) as it was in a git revision: `HEAD~1:policies/sales.pk`.

The text comes from git's object store (`git cat-file blob REV:PATH`), never from a
checkout, so any revision can be compared with any other or with the working file.
Every way this can go wrong (git missing, not a repository, an unknown revision, a
path the revision does not have, a folder) ends in a GitError in the user's words.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pkrules.errors import PkrulesError
from pkrules.language.source import SourceFile
from pkrules.messages import reason, tr


class GitError(PkrulesError):
    """A revision spec that cannot be read; the message says why and what to do."""


@dataclass(frozen=True)
class RevSpec:
    rev: str  # "" means the index (staging area), as git's own `:path`
    path: str

    def __str__(self) -> str:
        return f"{self.rev}:{self.path}"


def parse_spec(spec: str, cwd: str | Path | None = None) -> RevSpec | None:
    """`REV:PATH` → RevSpec; None for a plain file path.

    A spec is a file path when a file of that name exists, or when it has no colon;
    `C:\\…` (a Windows drive) is a path too.
    """
    if ":" not in spec:
        return None
    base = Path(cwd) if cwd is not None else Path.cwd()
    if (base / spec).exists():
        return None
    rev, _, path = spec.partition(":")
    if len(rev) == 1 and rev.isalpha() and path[:1] in ("\\", "/"):
        return None  # a Windows drive letter
    if not path:
        return None
    return RevSpec(rev, path)


def _git(args: list[str], cwd: str | Path | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env["LC_ALL"] = "C"  # git's messages are parsed below; never localised
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, env=env, check=False)
    except FileNotFoundError:
        raise GitError(tr("git is not installed (or not on PATH); give file paths instead of revisions")) from None
    except OSError as e:
        raise GitError(tr("cannot run git: {reason}", reason=reason(e))) from None


def _stderr(result: subprocess.CompletedProcess) -> str:
    return result.stderr.decode("utf-8", "replace").strip()


def repository_root(cwd: str | Path | None = None) -> str:
    result = _git(["rev-parse", "--show-toplevel"], cwd)
    if result.returncode != 0:
        where = Path(cwd) if cwd is not None else Path.cwd()
        raise GitError(tr("{where} is not inside a git repository, so revisions cannot be read; "
                          "run the command inside the repository, or give file paths", where=where))
    return result.stdout.decode("utf-8", "replace").strip()


def read_blob(spec: RevSpec, cwd: str | Path | None = None) -> bytes:
    """The bytes of PATH in REV. Paths are from the top of the repository (`./x` is from cwd)."""
    shown = str(spec)
    root = repository_root(cwd)
    result = _git(["cat-file", "blob", f"{spec.rev}:{spec.path}"], cwd)
    if result.returncode == 0:
        return result.stdout
    # Work out why, in the user's words.
    if spec.rev:
        rev = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec.rev}^{{tree}}"], cwd)
        if rev.returncode != 0:
            no_commits = _git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd).returncode != 0
            raise GitError(
                tr("{shown}: unknown revision '{rev}' in the git repository at {root} (the repository has no commits yet); "
                   "see `git log --oneline` for revisions", shown=shown, rev=spec.rev, root=root) if no_commits else
                tr("{shown}: unknown revision '{rev}' in the git repository at {root}; see `git log --oneline` for revisions",
                   shown=shown, rev=spec.rev, root=root))
    kind = _git(["cat-file", "-t", f"{spec.rev}:{spec.path}"], cwd)
    where = tr("revision {rev}", rev=spec.rev) if spec.rev else tr("the index (staged files)")
    if kind.returncode == 0:
        what = kind.stdout.decode().strip()
        if what == "tree":
            raise GitError(tr("{shown}: {path} is a folder in {where}; name a policy file (.pk)", shown=shown,
                              path=spec.path, where=where))
        raise GitError(tr("{shown}: {path} is a {what} in {where}, not a file", shown=shown, path=spec.path, what=what,
                          where=where))
    message = tr("{shown}: {path} is not in {where}", shown=shown, path=spec.path, where=where)
    prefix = _git(["rev-parse", "--show-prefix"], cwd).stdout.decode("utf-8", "replace").strip()
    if prefix and not spec.path.startswith(("./", "../")):
        alternative = f"{spec.rev}:{prefix}{spec.path}"
        if _git(["cat-file", "-e", alternative], cwd).returncode == 0:
            message += "\n" + tr("  hint: paths after ':' start at the top of the repository; did you mean {alternative} "
                                 "(or {relative})?", alternative=alternative, relative=f"{spec.rev}:./{spec.path}")
            raise GitError(message)
    message += "\n" + tr("  hint: paths after ':' start at the top of the repository; see `{command}`",
                         command="git ls-tree -r --name-only " + (spec.rev or "HEAD"))
    detail = _stderr(result)
    if detail and "exists on disk" in detail:
        message += "\n" + tr("  (the file exists on disk, but {where} does not have it)", where=where)
    raise GitError(message)


def decode_policy(raw: bytes, shown: str) -> SourceFile:
    """Policy bytes → SourceFile, with the same checks as reading a policy file."""
    from pkrules.language.compile import decode_policy as decode

    return decode(raw, shown)


def read_policy_spec(spec: str, cwd: str | Path | None = None) -> SourceFile:
    """A policy from a file or from `REV:PATH`. Raises PolicyFileError or GitError."""
    from pkrules.language.compile import read_policy

    rev = parse_spec(spec, cwd)
    if rev is None:
        path = Path(spec) if cwd is None or Path(spec).is_absolute() else Path(cwd) / spec
        source = read_policy(path)
        return SourceFile(spec, source.text)
    return decode_policy(read_blob(rev, cwd), spec)


def read_text_spec(spec: str, cwd: str | Path | None = None) -> str | None:
    """A data file's text when spec names a revision (`main:data/q3.csv`); None for a plain path."""
    rev = parse_spec(spec, cwd)
    if rev is None:
        return None
    raw = read_blob(rev, cwd)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise GitError(tr("{path}: not a text file in UTF-8 or GB18030", path=spec))


def read_revision_files(spec: RevSpec, files: list[str], folder: str | Path, cwd: str | Path | None = None) -> str:
    """Write the policy of spec and the files next to it (its lookup CSVs) as they are in that revision.

    Returns the policy's path in folder. A file the revision does not have is left out
    (checking the policy then says it is missing).
    """
    import posixpath

    prefix = _git(["rev-parse", "--show-prefix"], cwd).stdout.decode("utf-8", "replace").strip()
    path = spec.path
    if path.startswith(("./", "../")):
        path = posixpath.normpath(posixpath.join(prefix, path))
    folder = Path(folder)
    policy_dir = posixpath.dirname(path)
    target = folder / "policy" / posixpath.basename(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(read_blob(RevSpec(spec.rev, path), cwd))
    for name in files:
        inside = posixpath.normpath(posixpath.join(policy_dir, name))
        local = (target.parent / name).resolve()
        if not str(local).startswith(str(folder.resolve())):
            continue  # a file outside the scratch folder (../../x.csv): leave it to the checker
        try:
            raw = read_blob(RevSpec(spec.rev, inside), cwd)
        except GitError:
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(raw)
    return str(target)
