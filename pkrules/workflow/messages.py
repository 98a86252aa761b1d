"""The workflow's refusals and reports: sentences of the one catalogue (pkrules.messages), said in the cycle's language.

A sentence is written `msg("English with {named} placeholders", named=…)` and its
Chinese is in pkrules/messages/zh.py, like every other message; msg() is tr() said
later, because a refusal is made before anyone knows who reads it (`.in_(lang)`).
"""

from __future__ import annotations

from pkrules.messages import Msg, joined, later, msg

__all__ = ["Msg", "msg", "joined", "later", "WorkflowError", "Refused", "Conflict", "BadInput", "NotFound", "StoreError",
           "stage_name", "appeal_state_name", "role_name", "level_name", "stage_msg", "appeal_state_msg", "role_msg",
           "level_msg", "cycle_state_msg"]


class WorkflowError(Exception):
    """A refused action or bad input, with its message said in the cycle's language (or the user's --lang).

    kind: "refused" (wrong person or state), "conflict" (changed by someone else), "bad-input",
    "not-found", "store" (the store file). The CLI exits 1 for these (2 for bad input).
    """

    kind = "refused"

    def __init__(self, message: Msg, lang: str = "en"):
        super().__init__(message.in_(lang))
        self.msg = message
        self.lang = lang

    def in_(self, lang: str) -> str:
        return self.msg.in_(lang)

    def __str__(self) -> str:
        return self.msg.in_(self.lang)


class Refused(WorkflowError):
    kind = "refused"


class Conflict(WorkflowError):
    kind = "conflict"


class BadInput(WorkflowError):
    kind = "bad-input"


class NotFound(WorkflowError):
    kind = "not-found"


class StoreError(WorkflowError):
    kind = "store"


def stage_msg(stage: str) -> Msg:
    return {
        "self_review": msg("self-review"),
        "manager_review": msg("manager review"),
        "hr_review": msg("HR review"),
        "published": msg("published"),
        "final": msg("final"),
    }.get(stage) or msg("{name}", name=stage)


def appeal_state_msg(state: str) -> Msg:
    return {
        "submitted": msg("submitted"),
        "accepted": msg("accepted"),
        "under_review": msg("under review"),
        "info_requested": msg("information requested"),
        "upheld": msg("upheld"),
        "partly_upheld": msg("partly upheld"),
        "dismissed": msg("dismissed"),
        "inadmissible": msg("inadmissible"),
        "withdrawn": msg("withdrawn"),
    }.get(state) or msg("{name}", name=state)


def cycle_state_msg(state: str) -> Msg:
    return {"open": msg("open"), "published": msg("published"), "final": msg("final")}.get(state) or msg("{name}", name=state)


def role_msg(role: str) -> Msg:
    return {
        "employee": msg("the employee"),
        "manager": msg("the direct manager"),
        "hr": msg("HR"),
        "executive": msg("an executive"),
    }.get(role) or msg("{name}", name=role)


def level_msg(level: str) -> Msg:
    return {
        "hr": msg("HR"),
        "department": msg("the department"),
        "hr_panel": msg("the HR panel"),
        "executive": msg("the executive"),
    }.get(level) or msg("{name}", name=level)


def stage_name(stage: str, lang: str) -> str:
    return stage_msg(stage).in_(lang)


def appeal_state_name(state: str, lang: str) -> str:
    return appeal_state_msg(state).in_(lang)


def role_name(role: str, lang: str) -> str:
    return role_msg(role).in_(lang)


def level_name(level: str, lang: str) -> str:
    return level_msg(level).in_(lang)
