"""The app's words in English and Chinese: a Chinese policy gets Chinese labels (pkrules.api.policy_language)."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {
        # stages, roles, appeal states
        "stage.self_review": "self-review", "stage.manager_review": "manager review", "stage.hr_review": "HR review",
        "stage.published": "published", "stage.final": "final",
        "role.employee": "employee", "role.manager": "manager", "role.hr": "HR", "role.executive": "executive",
        "appeal.open": "open", "appeal.submitted": "submitted", "appeal.accepted": "accepted",
        "appeal.under_review": "under review", "appeal.info_requested": "information requested",
        "appeal.upheld": "upheld", "appeal.partly_upheld": "partly upheld", "appeal.dismissed": "dismissed",
        "appeal.inadmissible": "inadmissible", "appeal.withdrawn": "withdrawn",
        "level.hr": "HR", "level.department": "department", "level.hr_panel": "HR panel", "level.executive": "senior management",
        "act.review.submit_self": "Submit self-assessment", "act.review.return": "Send back to the employee",
        "act.review.score": "Enter scores", "act.review.submit": "Confirm the result", "act.hr.correct": "Correct an input",
        "act.acknowledge": "Acknowledge the result", "act.appeal.file": "File an appeal", "act.appeal.accept": "Accept the appeal",
        "act.appeal.reject": "Mark inadmissible", "act.appeal.request_info": "Request information",
        "act.appeal.answer": "Give the information", "act.appeal.decide": "Decide appeal",
        "act.appeal.withdraw": "Withdraw appeal", "act.appeal.escalate": "Escalate appeal",
        "act.cycle.advance": "Advance past deadlines", "act.cycle.publish": "Publish", "act.cycle.finalize": "Finalize",
        "act.cycle.export": "Export payroll", "evidence": "Evidence", "cycle_actions": "Cycle actions",
        # board
        "col.key": "ID", "col.name": "Name", "col.team": "Team", "col.stage": "Stage", "col.deadline": "Deadline",
        "col.total": "Total", "col.appeal": "Appeal",
        "all": "all", "team": "team", "stage": "stage", "overdue": "overdue", "with_appeal": "open appeal",
        "search": "search", "n_open_appeals": "{n} open appeal{s}", "sorted_by": "sorted by", "shown": "{n} of {of} employees", "cost": "Σ {what} {value}",
        "search_placeholder": "/ search: ID, name or team",
        "filter_title": "Filter the board (tab moves, space ticks, ctrl+s applies)", "apply": "Apply", "clear": "Clear",
        "loading": "Loading the cycle…", "filtering": "Filtering…",
        "preview": "PREVIEW", "acting_as": "as {who}", "cycle": "cycle {name}",
        "no_rows": "Nobody matches these filters.",
        # employee
        "explanation": "Explanation", "figures": "Inputs & results", "history": "History", "changes": "Changes",
        "inputs": "Inputs", "results": "Results", "deadline": "deadline {date}", "overdue_since": "overdue since {date}",
        "no_deadline": "no deadline", "formula": "Formula", "steps": "What happened", "fired": "the row that fired",
        "hints": "Next band", "source": "Policy source", "line": "line {n}", "in_words": "The rule",
        "value": "value", "no_history": "No events yet.", "no_changes": "No recomputation for this employee yet.",
        "appeal_line": "appeal ({level}) on {node}: {status}, answer due {due}", "repeated": "(shown above)",
        "appeal_decided": "appeal on {node}: {status}",
        "actions": "Actions", "refused": "not now", "no_actions": "No actions at this stage.",
        "actions_for": "Actions for {who} — acting as {person}",
        # forms
        "submit": "Submit", "cancel": "Cancel", "required": "required", "reason": "Reason", "disputed": "Disputed figure",
        "decision": "Decision",
        "corrections": "Corrected inputs (for an upheld appeal)", "comment": "Comment",
        "form_errors": "Please correct the fields marked in red.",
        # appeals
        "appeals": "Appeals", "open_appeals": "{n} open", "appeals_shown": "{n} appeal{s} shown", "filed": "Filed", "due": "Due", "level": "Level",
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
        "help": "Help", "tab.distribution": "Distribution", "tab.cost": "Cost by team",
        "kind.input": "input", "kind.definition": "definition", "kind.table": "table", "kind.lookup": "lookup",
        "kind.weighted": "scorecard",
    },
    "zh": {
        "stage.self_review": "自评", "stage.manager_review": "上级评分", "stage.hr_review": "HR汇总",
        "stage.published": "公示", "stage.final": "定稿",
        "role.employee": "员工", "role.manager": "经理", "role.hr": "人事", "role.executive": "高管",
        "appeal.open": "申诉中", "appeal.submitted": "已提交", "appeal.accepted": "已受理", "appeal.under_review": "审理中",
        "appeal.info_requested": "待补充材料", "appeal.upheld": "成立", "appeal.partly_upheld": "部分成立",
        "appeal.dismissed": "驳回", "appeal.inadmissible": "不予受理", "appeal.withdrawn": "已撤回",
        "level.hr": "HR", "level.department": "部门", "level.hr_panel": "HR委员会", "level.executive": "高层",
        "act.review.submit_self": "提交自评", "act.review.return": "退回员工", "act.review.score": "评分",
        "act.review.submit": "确认评分", "act.hr.correct": "更正输入", "act.acknowledge": "确认结果",
        "act.appeal.file": "提出申诉", "act.appeal.accept": "受理申诉", "act.appeal.reject": "不予受理",
        "act.appeal.request_info": "要求补充材料", "act.appeal.answer": "补充材料", "act.appeal.decide": "裁决申诉",
        "act.appeal.withdraw": "撤回申诉", "act.appeal.escalate": "提请上级处理",
        "act.cycle.advance": "按截止日期推进", "act.cycle.publish": "公示", "act.cycle.finalize": "定稿",
        "act.cycle.export": "导出工资表", "evidence": "证明材料", "cycle_actions": "周期操作",
        "col.key": "工号", "col.name": "姓名", "col.team": "小组", "col.stage": "阶段", "col.deadline": "截止",
        "col.total": "合计", "col.appeal": "申诉",
        "all": "全部", "team": "小组", "stage": "阶段", "overdue": "逾期", "with_appeal": "申诉中",
        "search": "搜索", "n_open_appeals": "{n} 件申诉待处理", "sorted_by": "排序", "shown": "{n} / {of} 人", "cost": "Σ {what} {value}",
        "search_placeholder": "/ 搜索：工号、姓名或小组",
        "filter_title": "筛选（tab 切换，空格勾选，ctrl+s 应用）", "apply": "应用", "clear": "清除",
        "loading": "正在载入…", "filtering": "正在筛选…",
        "preview": "预览", "acting_as": "身份：{who}", "cycle": "周期 {name}",
        "no_rows": "没有符合条件的员工。",
        "explanation": "计算说明", "figures": "输入与结果", "history": "记录", "changes": "变化",
        "inputs": "输入", "results": "结果", "deadline": "截止 {date}", "overdue_since": "{date} 起逾期",
        "no_deadline": "无截止日期", "formula": "公式", "steps": "计算过程", "fired": "命中的规则行",
        "hints": "距下一档", "source": "方案原文", "line": "第 {n} 行", "in_words": "规则说明",
        "value": "数值", "no_history": "暂无记录。", "no_changes": "该员工尚无重新计算。",
        "appeal_line": "申诉（{level}）{node}：{status}，{due} 前答复", "repeated": "（见上文）",
        "appeal_decided": "申诉 {node}：{status}",
        "actions": "操作", "refused": "暂不可用", "no_actions": "本阶段无可用操作。",
        "actions_for": "{who} 的操作 — 当前身份：{person}",
        "submit": "提交", "cancel": "取消", "required": "必填", "reason": "理由", "disputed": "申诉的数值",
        "decision": "裁决",
        "corrections": "更正后的输入（申诉成立时）", "comment": "说明",
        "form_errors": "请更正标红的字段。",
        "appeals": "申诉", "open_appeals": "{n} 件待处理", "appeals_shown": "共 {n} 件", "filed": "提出", "due": "截止", "level": "级别",
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
        "help": "帮助", "tab.distribution": "分布", "tab.cost": "各组成本",
        "kind.input": "输入", "kind.definition": "定义", "kind.table": "规则表", "kind.lookup": "对照表",
        "kind.weighted": "加权评分",
    },
}


def word(lang: str, key: str, /, **values: object) -> str:
    """A label in the policy's language (English when there is no translation)."""
    table = WORDS.get(lang, WORDS["en"])
    text = table.get(key) or WORDS["en"].get(key) or key
    return text.format(**values) if values else text


# The footer's words (key descriptions) for a Chinese policy.
KEYS_ZH = {
    "Open": "打开", "Filter": "筛选", "Appeals": "申诉", "Policy": "方案", "Charts": "图表", "Cycle": "周期操作",
    "Quit": "退出", "Help": "帮助", "Back": "返回", "Actions": "操作", "Expand all": "全部展开", "Next row": "下一行",
    "Diff": "对比", "Old": "旧版", "New": "新版", "Compare": "比较", "Close": "关闭", "Choose": "选择", "Cancel": "取消",
    "Submit": "提交", "Figure": "数值", "Open employee": "打开员工", "Open only / all": "未结/全部", "Apply": "应用",
    "Search": "搜索", "Sort": "排序", "Overdue": "逾期", "Open appeals": "申诉中", "Clear filters": "清除筛选",
}


def translate_keys(node, lang: str) -> None:
    """Put the footer's key descriptions of one widget, screen or app into the policy's language."""
    if lang != "zh":
        return
    from dataclasses import replace

    table = node._bindings.key_to_bindings  # each node holds its own copy of its class's bindings
    for key, bindings in list(table.items()):
        table[key] = [replace(b, description=KEYS_ZH.get(b.description, b.description)) for b in bindings]
