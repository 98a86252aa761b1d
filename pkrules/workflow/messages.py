"""Messages in the policy's language: every refusal and report is written in English and Chinese."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Msg:
    """One message in both languages; `in_(lang)` picks the policy's ('zh' or 'en')."""

    en: str
    zh: str

    def in_(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def __str__(self) -> str:
        return self.en


def msg(en: str, zh: str, **values: object) -> Msg:
    return Msg(en.format(**values), zh.format(**values))


class WorkflowError(Exception):
    """A refused action or bad input, with the message in both languages.

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


STAGE_NAMES = {
    "self_review": ("self-review", "自评"),
    "manager_review": ("manager review", "上级评分"),
    "hr_review": ("HR review", "HR汇总"),
    "published": ("published", "公示中"),
    "final": ("final", "已定稿"),
}
APPEAL_STATES = {
    "submitted": ("submitted", "已提交"),
    "accepted": ("accepted", "已受理"),
    "under_review": ("under review", "审理中"),
    "info_requested": ("information requested", "待补充材料"),
    "upheld": ("upheld", "申诉成立"),
    "partly_upheld": ("partly upheld", "部分成立"),
    "dismissed": ("dismissed", "驳回"),
    "inadmissible": ("inadmissible", "不予受理"),
    "withdrawn": ("withdrawn", "已撤回"),
}
ROLE_NAMES = {
    "employee": ("the employee", "员工本人"),
    "manager": ("the direct manager", "直属上级"),
    "hr": ("HR", "HR"),
    "executive": ("an executive", "高管"),
}
LEVEL_NAMES = {
    "hr": ("HR", "HR"),
    "department": ("the department", "部门"),
    "hr_panel": ("the HR panel", "HR委员会"),
    "executive": ("the executive", "高管"),
}


def stage_name(stage: str, lang: str) -> str:
    en, zh = STAGE_NAMES.get(stage, (stage, stage))
    return zh if lang == "zh" else en


def appeal_state_name(state: str, lang: str) -> str:
    en, zh = APPEAL_STATES.get(state, (state, state))
    return zh if lang == "zh" else en


def role_name(role: str, lang: str) -> str:
    en, zh = ROLE_NAMES.get(role, (role, role))
    return zh if lang == "zh" else en


def level_name(level: str, lang: str) -> str:
    en, zh = LEVEL_NAMES.get(level, (level, level))
    return zh if lang == "zh" else en
