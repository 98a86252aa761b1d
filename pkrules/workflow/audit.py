"""Checking the hash-chained event log: the first edited, deleted or reordered event, by number."""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Msg, msg
from .store import GENESIS, Store, event_hash


@dataclass
class AuditReport:
    """The result of `audit verify`: ok, how many events were checked, and the first bad one."""

    ok: bool
    events: int
    first_bad: int | None = None
    problem: Msg | None = None

    def text(self, lang: str = "en") -> str:
        if self.ok:
            return msg("audit: {n} events, the hash chain is intact",
                       n=self.events).in_(lang)
        return msg("audit: FAILED at event #{seq}: {p}",
                   seq=self.first_bad, p=self.problem.in_(lang)).in_(lang)


def verify_chain(store: Store) -> AuditReport:
    """Walk the log in order: numbers without gaps, each event chained to the one before, each hash recomputed,
    and the last event the one the store's head records (so a deleted last event is found too)."""
    expected_seq, prev = 1, GENESIS
    count = 0
    cursor = store.conn.execute("SELECT seq, at, cycle_id, employee_id, appeal_id, actor, operator, action, details, "
                                "prev_hash, hash FROM events ORDER BY seq")
    for row in cursor:
        record = dict(zip(("seq", "at", "cycle_id", "employee_id", "appeal_id", "actor", "operator", "action",
                           "details", "prev_hash", "hash"), row))
        seq = record["seq"]
        if seq != expected_seq:
            return AuditReport(False, count, expected_seq, msg(
                "event #{e} is missing (the log goes from #{a} to #{b}): an event was deleted", e=expected_seq, a=expected_seq - 1, b=seq))
        if record["prev_hash"] != prev:
            return AuditReport(False, count, seq, msg(
                "event #{s} does not follow event #{p} (its link to the previous event is wrong): "
                "events were deleted, inserted or reordered here",
                s=seq, p=seq - 1))
        if event_hash(record, prev) != record["hash"]:
            return AuditReport(False, count, seq, msg(
                "event #{s} ({a} by {who} at {at}) was changed after it was written: its content no longer matches its hash",
                s=seq, a=record["action"], who=record["actor"], at=record["at"]))
        prev = record["hash"]
        expected_seq += 1
        count += 1
    head = store.meta("event_head")
    if head:
        head_seq, head_hash = head.split(":")
        if int(head_seq) != count or head_hash != prev:
            missing = count + 1
            return AuditReport(False, count, missing, msg(
                "the log ends at event #{n} but the store recorded #{h} as its last event: events at the end were "
                "deleted or changed",
                n=count, h=head_seq))
    elif count:
        return AuditReport(False, count, 1, msg("the store has events but no record of the last one"))
    return AuditReport(True, count)
