"""The SQLite store (through sqlite-utils): schema, versioned migrations, transactions, the event log."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from .messages import StoreError, msg

SCHEMA_VERSION = 3
GENESIS = "0" * 64


def _v1(db: sqlite_utils.Database) -> None:
    """The first schema: people, cycles, policies, inputs, runs, results, appraisals, appeals, events."""
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["policy_versions"].create({"id": int, "sha256": str, "path": str, "text": str, "git_commit": str,
                                  "title": str, "version": str, "created_at": str}, pk="id")
    db["policy_versions"].create_index(["sha256"], unique=True)
    db["cycles"].create({"id": str, "period": str, "policy_id": int, "state": str, "start": str,
                         "published_on": str, "publication_deadline": str, "publication_note": str,
                         "finalized_on": str, "process": str, "lang": str, "created_at": str,
                         "created_by": str, "current_run": int, "stale": int, "data_source": str,
                         "people_source": str, "version": int}, pk="id",
                        foreign_keys=[("policy_id", "policy_versions", "id")])
    db["people"].create({"cycle_id": str, "id": str, "name": str, "role": str, "manager_id": str,
                         "team": str, "login": str}, pk=("cycle_id", "id"))
    db["people"].create_index(["cycle_id", "login"])
    db["people"].create_index(["cycle_id", "manager_id"])
    db["inputs"].create({"cycle_id": str, "employee_id": str, "row": int, "cells": str}, pk=("cycle_id", "employee_id"))
    db["related_inputs"].create({"cycle_id": str, "tbl": str, "employee_id": str, "seq": int, "cells": str},
                                pk=("cycle_id", "tbl", "seq"))
    db["runs"].create({"id": int, "cycle_id": str, "parent_id": int, "reason": str, "at": str, "nodes": str,
                       "size": int, "changed": int, "inputs_digest": str}, pk="id")
    db["results"].create({"run_id": int, "employee_id": str, "vals": str}, pk=("run_id", "employee_id"))
    db["appraisals"].create({"cycle_id": str, "employee_id": str, "name": str, "team": str, "manager_id": str,
                             "stage": str, "entered_on": str, "deadline": str, "deadline_note": str,
                             "self_review_missing": int, "returned": int, "acknowledged": int,
                             "self_assessment": str, "manager_note": str, "scored": str,
                             "open_appeals": int, "total": str, "total_sort": float, "version": int},
                            pk=("cycle_id", "employee_id"))
    for cols in (["cycle_id", "stage"], ["cycle_id", "team"], ["cycle_id", "deadline"],
                 ["cycle_id", "open_appeals"], ["cycle_id", "total_sort"], ["cycle_id", "name"],
                 ["cycle_id", "manager_id"]):
        db["appraisals"].create_index(cols)
    db["appeals"].create({"id": int, "cycle_id": str, "employee_id": str, "target": str, "reason": str,
                          "state": str, "level": int, "filed_on": str, "late": int, "deadline": str,
                          "deadline_note": str, "decision": str, "decision_reason": str, "decided_by": str,
                          "corrections": str, "run_id": int, "change": str, "change_text": str,
                          "info_request": str, "info_answer": str, "history": str, "version": int}, pk="id")
    db["appeals"].create_index(["cycle_id", "employee_id"])
    db["appeals"].create_index(["cycle_id", "state"])
    db["events"].create({"seq": int, "at": str, "cycle_id": str, "employee_id": str, "appeal_id": int,
                         "actor": str, "operator": str, "action": str, "details": str,
                         "prev_hash": str, "hash": str}, pk="seq")
    db["events"].create_index(["cycle_id", "employee_id"])


def _v2(db: sqlite_utils.Database) -> None:
    """Payroll exports, and adjusting entries (a correction of a final cycle, paid in a later one)."""
    db["exports"].create({"id": int, "cycle_id": str, "path": str, "at": str, "actor": str, "rows": int,
                          "sha256": str}, pk="id")
    db["adjustments"].create({"id": int, "cycle_id": str, "original_cycle_id": str, "employee_id": str,
                              "node": str, "amount": str, "before": str, "after": str, "reason": str,
                              "created_at": str, "created_by": str, "run_id": int}, pk="id")
    db["adjustments"].create_index(["cycle_id", "employee_id"])


def _v3(db: sqlite_utils.Database) -> None:
    """Kept runs (api.keep_run): each employee's position, each run's terms per employee and its groups'
    statistics, so that one figure is explained from one employee's row and their groups' statistics."""
    conn = db.conn
    conn.execute("ALTER TABLE runs ADD COLUMN kept TEXT")  # the kept run's spec; NULL: a run stored before v3
    conn.execute("ALTER TABLE results ADD COLUMN terms TEXT")  # the employee's terms record (api.KeptRun.rows)
    conn.execute("ALTER TABLE inputs ADD COLUMN pos INTEGER")  # the employee's position in the population (0-based)
    positions: list[tuple] = []
    for cycle_id, in conn.execute("SELECT id FROM cycles").fetchall():
        ids = [r[0] for r in conn.execute("SELECT employee_id FROM inputs WHERE cycle_id = ? ORDER BY row", (cycle_id,))]
        positions.extend((pos, cycle_id, eid) for pos, eid in enumerate(ids))
    conn.executemany("UPDATE inputs SET pos = ? WHERE cycle_id = ? AND employee_id = ?", positions)
    conn.execute("CREATE INDEX inputs_cycle_id_pos ON inputs(cycle_id, pos)")
    conn.execute("CREATE TABLE run_groups(run_id INTEGER NOT NULL, term TEXT NOT NULL, grp TEXT NOT NULL, "
                 "stat TEXT NOT NULL, PRIMARY KEY (run_id, term, grp)) WITHOUT ROWID")


MIGRATIONS = {1: _v1, 2: _v2, 3: _v3}


class Store:
    """One store file. Every change goes through `transaction()` (BEGIN IMMEDIATE … COMMIT)."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = str(path)
        exists = self.path == ":memory:" or Path(self.path).exists()
        if not exists and not create:
            raise StoreError(msg("{path}: no such store; create one with `pkrules cycle new` (or `pkrules demo`)", path=self.path))
        try:
            # check_same_thread=False: api.explain runs on the deep-stack thread (language/limits.py) and reads a kept
            # run from this connection there, while the caller's thread waits for it; never two threads at once
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys=ON")
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as e:
            raise StoreError(msg("{path}: not a pkrules store ({e})",
                                 path=self.path, e=e)) from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._depth = 0
        self.migrate()

    def close(self) -> None:
        self.conn.close()

    # -- schema
    def schema_version(self) -> int:
        try:
            if "schema_version" not in self.db.table_names():
                if self.db.table_names():
                    raise StoreError(msg("{path}: this SQLite file is not a pkrules store (it has other tables); "
                                         "choose another file with --db", path=self.path))
                return 0
        except sqlite3.DatabaseError as e:
            raise StoreError(msg("{path}: not a pkrules store ({e})",
                                 path=self.path, e=e)) from None
        row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return row[0] or 0

    def migrate(self) -> list[int]:
        """Bring the store to SCHEMA_VERSION, one versioned step at a time, each in a transaction."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(msg("{path}: made by a newer pkrules (schema {v}, this one knows {mine}); upgrade pkrules",
                                 path=self.path, v=current, mine=SCHEMA_VERSION))
        applied = []
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                if version == 1:
                    self.db["schema_version"].create({"version": int, "applied_at": str}, pk="version")
                MIGRATIONS[version](self.db)
                self.conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, _now()))
            applied.append(version)
        return applied

    # -- transactions
    @contextlib.contextmanager
    def transaction(self):
        """One transaction (nested calls join the outer one). BEGIN IMMEDIATE takes the write lock at once."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise StoreError(msg("{path}: the store is busy or locked ({e}); try again", path=self.path, e=e)) from None
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self._depth = 0
            self.conn.execute("COMMIT")

    def execute(self, sql: str, params=()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params=()) -> dict | None:
        rows = list(self.db.query(sql, params))
        return rows[0] if rows else None

    def all(self, sql: str, params=()) -> list[dict]:
        return list(self.db.query(sql, params))

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                          (key, value))

    # -- the event log (append-only, hash-chained)
    def append_event(self, at: str, actor: str, action: str, details: dict, cycle_id: str | None = None,
                     employee_id: str | None = None, appeal_id: int | None = None, operator: str | None = None) -> int:
        """Append one event inside the current transaction; its hash covers its content and the previous hash."""
        return self.append_events(at, actor, action, [(details, cycle_id, employee_id, appeal_id)], operator)

    def append_events(self, at: str, actor: str, action: str, events: list[tuple[dict, str | None, str | None, int | None]],
                      operator: str | None = None) -> int:
        """Append events of one action (details, cycle, employee, appeal each) in order, chained as one by one;
        written together (a deadline moving 100,000 appraisals wrote three statements per event). The last seq."""
        assert self._depth, "events are written inside a transaction"
        head = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (head[0], head[1]) if head else (0, GENESIS)
        rows = []
        last, text = None, ""
        for details, cycle_id, employee_id, appeal_id in events:
            seq += 1
            if details is not last:  # (the same details for every appraisal a deadline moves: written once)
                last, text = details, json.dumps(details, ensure_ascii=False, sort_keys=True)
            record = {"seq": seq, "at": at, "cycle_id": cycle_id, "employee_id": employee_id, "appeal_id": appeal_id,
                      "actor": actor, "operator": operator, "action": action, "details": text}
            digest = event_hash(record, prev)
            rows.append((seq, at, cycle_id, employee_id, appeal_id, actor, operator, action, record["details"], prev, digest))
            prev = digest
        self.conn.executemany("INSERT INTO events(seq, at, cycle_id, employee_id, appeal_id, actor, operator, action, details, "
                              "prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        if rows:
            self.set_meta("event_head", f"{seq}:{prev}")
        return seq


def event_hash(record: dict, prev_hash: str) -> str:
    """sha256 of the previous hash and the event's content (every column but the hashes)."""
    content = json.dumps([record["seq"], record["at"], record["cycle_id"], record["employee_id"], record["appeal_id"],
                          record["actor"], record["operator"], record["action"], record["details"]],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + "\n" + content).encode("utf-8")).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def test_hook(name: str) -> None:
    """Tests pause a process at a named point (PKRULES_TEST_PAUSE=name:seconds) to kill it or race it."""
    spec = os.environ.get("PKRULES_TEST_PAUSE")
    if spec and spec.split(":")[0] == name:
        time.sleep(float(spec.split(":")[1]))
