"""A kept run in one SQLite file: `pkrules run … --keep RUN`, then `pkrules explain --run RUN ID [NAME]` at once.

    write_kept_file(keep(results), graph, "march.pkrun")
    results = kept_results("march.pkrun")          # the policy of its time, from the file
    explain(results, results.index_of("E042"), "total")

The file holds the policy text it was computed with (path, SHA-256, and a digest of the lookup
tables read from CSV files next to it), the kept run's spec, one row per employee (position, key,
period, row number, and the records of engine/kept.py: every node's value, every term's value),
indexed by key, one row per group of each population term, and the run's row errors. Reading
one employee is an indexed lookup: no polars, no evaluation. The file is written beside the
target and renamed over it (files.py): a reader never sees half a run.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from pkrules.engine.kept import (FORMAT, SEP, KeptResults, KeptRun, KeptRunError, decode_record, escape, lookups_digest,
                                 policy_digest)
from pkrules.files import atomic_path
from pkrules.messages import tr


BLOCK = 64  # rows per stored block: an employee is one indexed read and a split; a million rows, 16,000 inserts


def write_kept_file(kept: KeptRun, graph, path) -> int:
    """Write a kept run (with its policy) to path, atomically. Returns the rows written."""
    meta = {"format": FORMAT, "spec": json.dumps(kept.spec, ensure_ascii=False),
            "policy_path": graph.source.path, "policy_text": graph.source.text,
            "policy_sha256": policy_digest(graph), "lookups_sha256": lookups_digest(graph),
            "block": str(BLOCK), "written_at": dt.datetime.now().isoformat(timespec="seconds")}
    keys: list[str] = []
    with atomic_path(path) as temporary:
        temporary.unlink()  # sqlite makes its own file
        conn = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            # a fresh file written by one process, renamed into place only when complete: no journal needed
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("BEGIN")
            conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
            # BLOCK rows per row: their numbers, values records and terms records, one per line
            conn.execute("CREATE TABLE rows(block INTEGER PRIMARY KEY, numbers TEXT NOT NULL, vals TEXT NOT NULL, "
                         "terms TEXT NOT NULL)")
            # the keys in order, in blocks that never split an employee: (first key, "key SEP position" lines)
            conn.execute("CREATE TABLE keys(first TEXT PRIMARY KEY, entries TEXT NOT NULL) WITHOUT ROWID")
            conn.execute("CREATE TABLE groups(term TEXT NOT NULL, grp TEXT NOT NULL, stat TEXT NOT NULL, "
                         "PRIMARY KEY (term, grp)) WITHOUT ROWID")
            conn.execute("CREATE TABLE errors(data TEXT NOT NULL)")
            conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            if kept.blocks is not None and kept.key_blocks is not None:
                for blocks in kept.blocks(BLOCK):
                    conn.executemany("INSERT INTO rows VALUES (?,?,?,?)", blocks)
                key_blocks = kept.key_blocks(BLOCK)
                written = kept.spec["size"]
            else:
                block = 0
                for chunk in kept.rows(BLOCK * 1024):  # (chunks are whole blocks, but the last)
                    blocks = [_block(block + k, chunk[at:at + BLOCK], keys)
                              for k, at in enumerate(range(0, len(chunk), BLOCK))]
                    block += len(blocks)
                    conn.executemany("INSERT INTO rows VALUES (?,?,?,?)", blocks)
                key_blocks = _key_blocks(keys, kept.order)
                written = len(keys)
            conn.executemany("INSERT INTO keys VALUES (?, ?)", key_blocks)
            conn.executemany("INSERT INTO groups VALUES (?,?,?)", kept.groups)
            conn.executemany("INSERT INTO errors VALUES (?)", ((json.dumps(e, ensure_ascii=False),) for e in kept.errors))
            conn.execute("COMMIT")
        finally:
            conn.close()
    return written


def _block(block: int, rows: list[tuple], keys: list[str]) -> tuple:
    keys.extend(r[1] for r in rows)
    return (block, SEP.join(str(r[3]) for r in rows), "\n".join(r[4] for r in rows), "\n".join(r[5] for r in rows))


def _key_blocks(keys: list[str], order) -> list[tuple[str, str]]:
    """The keys sorted (by their stored text, as SQLite compares it), cut into blocks at a change of key."""
    ordered = order() if order is not None else sorted(range(len(keys)), key=keys.__getitem__)
    out = []
    lines: list[str] = []
    first = None
    previous = None
    for pos in ordered:
        key = keys[pos]
        if lines and len(lines) >= BLOCK and key != previous:
            out.append((first, "\n".join(lines)))
            lines = []
        if not lines:
            first = key
        lines.append(f"{key}{SEP}{pos}")
        previous = key
    if lines:
        out.append((first, "\n".join(lines)))
    return out


class KeptFile:
    """A kept-run file opened for reading (engine/kept.py: KeptSource)."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise KeptRunError(tr("{path}: no such kept run", path=path) if not self.path.exists()
                               else tr("{path}: not a file", path=path))
        try:
            self.conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True)
            meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError:
            raise KeptRunError(tr("{path}: not a kept run (keep one with pkrules run POLICY DATA --keep {path})",
                                  path=path)) from None
        if meta.get("format") != FORMAT:
            raise KeptRunError(tr("{path}: not a kept run (keep one with pkrules run POLICY DATA --keep {path})",
                                  path=path))
        self.meta = meta
        self.spec = json.loads(meta["spec"])
        self.block = int(meta["block"])
        self.policy_path = meta["policy_path"]
        self.policy_text = meta["policy_text"]
        self._blocks: dict[int, tuple] = {}

    def close(self) -> None:
        self.conn.close()

    def _rows(self, block: int) -> tuple | None:
        found = self._blocks.get(block)
        if found is None:
            row = self.conn.execute("SELECT numbers, vals, terms FROM rows WHERE block = ?", (block,)).fetchone()
            if row is None:
                return None
            found = (row[0].split(SEP), row[1].split("\n"), row[2].split("\n"))
            if len(self._blocks) > 64:
                self._blocks.clear()
            self._blocks[block] = found
        return found

    # -- KeptSource
    def record(self, pos: int):
        rows = self._rows(pos // self.block)
        at = pos % self.block
        if rows is None or at >= len(rows[0]):
            return None
        return int(rows[0][at]), decode_record(rows[1][at]), decode_record(rows[2][at])

    def positions(self, key: str) -> list[int]:
        wanted = escape(key)
        row = self.conn.execute("SELECT entries FROM keys WHERE first <= ? ORDER BY first DESC LIMIT 1",
                                (wanted,)).fetchone()
        if row is None:
            return []
        found = []
        for line in row[0].split("\n"):
            text, _, pos = line.rpartition(SEP)
            if text == wanted:  # (stored keys are record fields: escaped)
                found.append(int(pos))
        return sorted(found)

    def group(self, term: str, group: str):
        row = self.conn.execute("SELECT stat FROM groups WHERE term = ? AND grp = ?", (term, group)).fetchone()
        return json.loads(row[0]) if row else None

    def errors(self) -> list[dict]:
        return [json.loads(r[0]) for r in self.conn.execute("SELECT data FROM errors")]

    def keys(self) -> list[str]:
        pairs = []
        for (entries,) in self.conn.execute("SELECT entries FROM keys"):
            for line in entries.split("\n"):
                text, _, pos = line.rpartition(SEP)
                pairs.append((int(pos), decode_record(text)[0]))
        return [key for _, key in sorted(pairs)]


def kept_results(path, graph=None) -> KeptResults:
    """A kept-run file as Results, with the policy it was computed with (compiled from the file's
    own copy unless graph is given, which must be that same policy)."""
    kept = KeptFile(path)
    if graph is None:
        from pkrules.language.compile import compile_policy
        from pkrules.language.diagnostics import PolicyError

        try:
            graph = compile_policy(kept.policy_text, kept.policy_path, reuse=True)
        except PolicyError:
            raise KeptRunError(tr("{path}: the policy kept with this run ({policy}) does not compile here: "
                                  "a lookup file next to it is missing or changed", path=path,
                                  policy=kept.policy_path)) from None
    elif policy_digest(graph) != kept.meta.get("policy_sha256"):
        raise KeptRunError(tr("{path}: this run was kept with another version of the policy ({policy})",
                              path=path, policy=kept.policy_path))
    if lookups_digest(graph) != kept.meta.get("lookups_sha256"):
        raise KeptRunError(tr("{path}: a lookup file of {policy} changed since this run was kept; "
                              "its explanations would not match its figures", path=path, policy=kept.policy_path))
    return KeptResults(graph, kept.spec, kept)
