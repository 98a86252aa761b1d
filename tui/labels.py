"""The app's words in English and Chinese: a Chinese policy gets Chinese labels (pkrules.api.policy_language)."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {
        # stages, roles, appeal states
        "stage.self_review": "self-review", "stage.manager_review": "manager review", "stage.hr_review": "HR review",
        "stage.published": "published", "stage.final": "final",
        "role.employee": "employee", "role.manager": "manager", "role.hr": "HR", "role.executive": "executive",
        "appeal.open": "open", "appeal.upheld": "upheld", "appeal.rejected": "rejected",
        "level.1": "department", "level.2": "HR panel", "level.3": "senior management",
        # board
        "col.key": "ID", "col.name": "Name", "col.team": "Team", "col.stage": "Stage", "col.deadline": "Deadline",
        "col.total": "Total", "col.appeal": "Appeal",
        "all": "all", "team": "team", "stage": "stage", "overdue": "overdue", "with_appeal": "open appeal",
        "search": "search", "sorted_by": "sorted by", "shown": "{n} of {of} employees", "cost": "Σ {what} {value}",
        "search_placeholder": "/ search: ID, name or team",
        "loading": "Loading the cycle…", "filtering": "Filtering…",
        "preview": "PREVIEW", "acting_as": "as {who}", "cycle": "cycle {name}",
        "no_rows": "Nobody matches these filters.",
        # employee
        "explanation": "Explanation", "figures": "Inputs & results", "history": "History", "changes": "Changes",
        "inputs": "Inputs", "results": "Results", "deadline": "deadline {date}", "overdue_since": "overdue since {date}",
        "no_deadline": "no deadline", "formula": "Formula", "steps": "What happened", "fired": "the row that fired",
        "hints": "Next band", "source": "Policy source", "line": "line {n}", "in_words": "The rule",
        "value": "value", "no_history": "No events yet.", "no_changes": "No recomputation for this employee yet.",
        "appeal_line": "appeal ({level}) on {node}: {status}, due {due}", "repeated": "(shown above)",
        "actions": "Actions", "refused": "not now", "no_actions": "No actions at this stage.",
        "actions_for": "Actions for {who} — acting as {person}",
        # forms
        "submit": "Submit", "cancel": "Cancel", "required": "required", "reason": "Reason", "disputed": "Disputed figure",
        "decision": "Decision", "uphold": "uphold (correct the inputs)", "reject": "reject",
        "corrections": "Corrected inputs (for an upheld appeal)", "comment": "Comment",
        "form_errors": "Please correct the fields marked in red.",
        # appeals
        "appeals": "Appeals", "open_appeals": "{n} open", "filed": "Filed", "due": "Due", "level": "Level",
        "status": "Status", "figure": "Figure", "decided": "Decided", "no_appeals": "No appeals in this cycle.",
        "before_after": "Before → after", "not_upheld": "Only an upheld appeal changes figures.",
        # policy, pictures, diff
        "policy": "Policy", "hits": "employees", "never_hit": "{n} rows never fired in this cycle",
        "all_hit": "every row fired for someone", "gutter": "line  hits",
        "pictures": "Pictures", "distribution": "Distribution of {name}", "just_below": "{n} within {width} below {threshold}",
        "cost_by_team": "Cost by team ({what})", "band": "band", "people": "people",
        "diff": "Diff", "old": "Old", "new": "New", "semantic": "Semantic changes", "impact": "Impact",
        "side_by_side": "Side by side", "gains": "Who gains and loses", "computing": "Computing the impact…",
        "choose_versions": "Choose two versions (o: old, n: new) and press enter",
        "no_versions": "Only one version of the policy is known; give another with --compare FILE.",
        "help": "Help",
    },
    "zh": {
        "stage.self_review": "自评", "stage.manager_review": "上级评分", "stage.hr_review": "HR汇总",
        "stage.published": "公示", "stage.final": "定稿",
        "role.employee": "员工", "role.manager": "经理", "role.hr": "人事", "role.executive": "高管",
        "appeal.open": "申诉中", "appeal.upheld": "申诉成立", "appeal.rejected": "申诉驳回",
        "level.1": "部门", "level.2": "HR委员会", "level.3": "高层",
        "col.key": "工号", "col.name": "姓名", "col.team": "小组", "col.stage": "阶段", "col.deadline": "截止",
        "col.total": "合计", "col.appeal": "申诉",
        "all": "全部", "team": "小组", "stage": "阶段", "overdue": "逾期", "with_appeal": "申诉中",
        "search": "搜索", "sorted_by": "排序", "shown": "{n} / {of} 人", "cost": "Σ {what} {value}",
        "search_placeholder": "/ 搜索：工号、姓名或小组",
        "loading": "正在载入…", "filtering": "正在筛选…",
        "preview": "预览", "acting_as": "身份：{who}", "cycle": "周期 {name}",
        "no_rows": "没有符合条件的员工。",
        "explanation": "计算说明", "figures": "输入与结果", "history": "记录", "changes": "变化",
        "inputs": "输入", "results": "结果", "deadline": "截止 {date}", "overdue_since": "{date} 起逾期",
        "no_deadline": "无截止日期", "formula": "公式", "steps": "计算过程", "fired": "命中的规则行",
        "hints": "距下一档", "source": "方案原文", "line": "第 {n} 行", "in_words": "规则说明",
        "value": "数值", "no_history": "暂无记录。", "no_changes": "该员工尚无重新计算。",
        "appeal_line": "申诉（{level}）{node}：{status}，{due} 截止", "repeated": "（见上文）",
        "actions": "操作", "refused": "暂不可用", "no_actions": "本阶段无可用操作。",
        "actions_for": "{who} 的操作 — 当前身份：{person}",
        "submit": "提交", "cancel": "取消", "required": "必填", "reason": "理由", "disputed": "申诉的数值",
        "decision": "决定", "uphold": "申诉成立（更正输入）", "reject": "驳回",
        "corrections": "更正后的输入（申诉成立时）", "comment": "说明",
        "form_errors": "请更正标红的字段。",
        "appeals": "申诉", "open_appeals": "{n} 件待处理", "filed": "提出", "due": "截止", "level": "级别",
        "status": "状态", "figure": "数值", "decided": "决定", "no_appeals": "本周期没有申诉。",
        "before_after": "变化前 → 变化后", "not_upheld": "只有成立的申诉会改变数值。",
        "policy": "方案", "hits": "人", "never_hit": "{n} 行本周期无人命中",
        "all_hit": "每一行都有人命中", "gutter": "行号  人数",
        "pictures": "图表", "distribution": "{name} 分布", "just_below": "{threshold} 以下 {width} 以内：{n} 人",
        "cost_by_team": "各组成本（{what}）", "band": "档位", "people": "人",
        "diff": "对比", "old": "旧版", "new": "新版", "semantic": "语义变化", "impact": "影响",
        "side_by_side": "并排对照", "gains": "谁增谁减", "computing": "正在计算影响…",
        "choose_versions": "选择两个版本（o：旧版，n：新版），按回车",
        "no_versions": "只有一个方案版本；用 --compare FILE 指定另一个。",
        "help": "帮助",
    },
}


def word(lang: str, key: str, /, **values: object) -> str:
    """A label in the policy's language (English when there is no translation)."""
    table = WORDS.get(lang, WORDS["en"])
    text = table.get(key) or WORDS["en"].get(key) or key
    return text.format(**values) if values else text
