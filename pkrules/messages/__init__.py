"""Words of explanations and statements in the policy's own language (English or Chinese).

A policy written with Chinese keywords is explained in Chinese: the statement HR
sends to an employee must read in the language the policy was written in.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "yes": "yes", "no": "no",
        "if_step": "IF {cond}: {answer} → {chosen}",
        "not_computed": "{what}: could not be computed for this group",
        "group": "{within} {group}, {members} {people}", "everyone": "everyone, {members} {people}",
        "counted": ", {counted} counted",
        "aggregate": "{what} = {value} ({group}{extra})",
        "rank": "{what} = {value} ({group}; equal values share a rank)",
        "top": "{what}: {better} of {members} have a strictly {word} {operand}; {share} of {members} is {places} {place_word} → {answer}",
        "higher": "higher", "lower": "lower",
        "no_pool": "{what}: the weights in {group} add up to 0, so there is no pool",
        "exact_share": " (exact share {exact}; cents by largest remainder)",
        "split": "{what}: pool {pool} ({group}); {weight_name} {weight} of {total} → {share}{note}",
        "band": "{lower}–{upper}", "band_above": "above {lower}",
        "tier_part": "{band}: {part} × {rate} = {amount}",
        "whole_band": "{base} falls in the {rate} band: {base} × {rate} = {amount}",
        "is_false": "{cond} is false", "not_met_short": "not met",
        "at_threshold": "exactly at the {threshold} threshold of {table} {value}",
        "above_threshold": "{amount} above the {threshold} threshold of {table} {value}",
        "below_limit": "{amount} below the {threshold} limit of {table} {value}",
        "short_of": "{amount} short of {table} {value} ({cond})",
        "more_than_short_of": "more than {amount} short of {table} {value} ({cond})",
        "points": "{n} points", "point": "{n} point", "pct_points": "{n} percentage points",
        "lookup": "{key} is {value} → {label} {result}",
        "why": "{key_name} {key} — why {name} = {value}",
        "input": "input", "shown_above": "shown above", "line": "line {n}",
        "your_figures": "Your figures", "how": "How it was calculated", "item": "item", "value": "value",
        "applies": "✅ applies", "not_met": "❌ not met", "not_reached": "not reached",
        "for": "{name} for {who}", "source_line": "{path}, line {n}",
        "lookup_file": "{key} is {value} → {result} ({file}, line {line})",
        "related": "{what} = {value} ({counted} of this employee's {rows} rows in {table})",
        "previous_of": "from {period} {value}", "no_previous": "no earlier period: the default",
        "periods_counted": "periods in a row up to {period} {here}",
        "value_of": "{what}: {name} of the employee with {key_name} {key} = {value}",
        "group_value_of": "{what}: {name} of {group} {key} = {value}",
    },
    "zh": {
        "yes": "是", "no": "否",
        "if_step": "如果 {cond}：{answer} → {chosen}",
        "not_computed": "{what}：该组无法计算",
        "group": "{within} {group}，共 {members} 人", "everyone": "全体，共 {members} 人",
        "counted": "，计入 {counted} 人",
        "aggregate": "{what} = {value}（{group}{extra}）",
        "rank": "{what} = {value}（{group}；数值相同者名次并列）",
        "top": "{what}：{members} 人中有 {better} 人的 {operand} {word}；{members} 人的 {share} 为 {places} 个名额 → {answer}",
        "higher": "更高", "lower": "更低",
        "no_pool": "{what}：{group} 的权重合计为 0，没有奖金池",
        "exact_share": "（精确份额 {exact}；不足一分的部分按最大余数法分配）",
        "split": "{what}：奖金池 {pool}（{group}）；{weight_name} {weight} / {total} → {share}{note}",
        "band": "{lower}–{upper}", "band_above": "{lower} 以上",
        "tier_part": "{band}：{part} × {rate} = {amount}",
        "whole_band": "{base} 落在 {rate} 档：{base} × {rate} = {amount}",
        "is_false": "{cond} 不成立", "not_met_short": "未满足",
        "at_threshold": "恰好达到 {table} {value} 的门槛 {threshold}",
        "above_threshold": "高出 {table} {value} 的门槛 {threshold} 共 {amount}",
        "below_limit": "低于 {table} {value} 的上限 {threshold} 共 {amount}",
        "short_of": "距 {table} {value}（{cond}）还差 {amount}",
        "more_than_short_of": "距 {table} {value}（{cond}）还差超过 {amount}",
        "points": "{n} 分", "point": "{n} 分", "pct_points": "{n} 个百分点",
        "lookup": "{key} 为 {value} → {label} {result}",
        "why": "{key_name} {key}：{name} = {value} 的由来",
        "input": "输入", "shown_above": "见上文", "line": "第 {n} 行",
        "your_figures": "你的数据", "how": "计算过程", "item": "项目", "value": "数值",
        "applies": "✅ 适用", "not_met": "❌ 未满足", "not_reached": "未到达",
        "for": "{who} 的 {name}", "source_line": "{path} 第 {n} 行",
        "lookup_file": "{key} 为 {value} → {result}（{file} 第 {line} 行）",
        "related": "{what} = {value}（该员工在 {table} 中共 {rows} 行，计入 {counted} 行）",
        "previous_of": "取自 {period} {value}", "no_previous": "没有上一期：取默认值",
        "periods_counted": "截至 {period} {here} 的连续期数",
        "value_of": "{what}：{key_name} 为 {key} 的员工的 {name} = {value}",
        "group_value_of": "{what}：{group} {key} 的 {name} = {value}",
    },
}


def say(lang: str, message: str, /, **values: object) -> str:
    catalog = MESSAGES.get(lang, MESSAGES["en"])
    return catalog[message].format(**values)
