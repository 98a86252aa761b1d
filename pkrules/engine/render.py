"""Explanations rendered: a terminal tree, a brief answer a manager reads aloud, a Markdown statement for the employee, JSON."""

from __future__ import annotations

import json
from fractions import Fraction

from pkrules.engine.explain import Explanation, TraceNode
from pkrules.messages import say
from pkrules.values.format import format_value, json_value


# ---- explanations --------------------------------------------------------------------

_MARKS = {"fired": "✓", "not met": "✗", "not reached": "·"}
_HIGHLIGHT = False  # set for one render_tree call


def _who(explanation: Explanation) -> str:
    key = f"{explanation.key} ({explanation.period})" if explanation.period else str(explanation.key)
    return key


def render_tree(explanation: Explanation, colour: bool = False) -> str:
    """The explanation as a terminal tree; with colour, formulas are syntax-highlighted."""
    root = explanation.root
    lang = explanation.lang
    global _HIGHLIGHT
    _HIGHLIGHT = colour
    lines = [say(lang, "why", key_name=explanation.key_name, key=_who(explanation), name=root.name,
                 value=root.display) + f"   ({explanation.policy_path})"]
    _tree_lines(root, "", lines, lang, is_root=True)
    return "\n".join(lines)


def _headline(node: TraceNode, lang: str) -> str:
    where = f"  [{say(lang, 'line', n=node.line)}]" if node.line else ""
    context = f"  ({node.context})" if node.context else ""
    if node.withheld:
        return f"{node.name}: {say(lang, 'withheld_node')}{context}"
    if node.kind in ("input", "parameter"):
        return f"{node.name} = {node.display}  ({say(lang, node.kind)}){context}"
    if node.repeated:
        return f"{node.name} = {node.display}{context}  ({say(lang, 'shown_above')}){where}"
    return f"{node.name} = {node.display}{context}{where}"


def _tree_lines(node: TraceNode, prefix: str, lines: list[str], lang: str, is_root: bool = False, last: bool = True) -> None:
    if is_root:
        lines.append(_headline(node, lang))
        body_prefix = ""
    else:
        lines.append(prefix + ("└─ " if last else "├─ ") + _headline(node, lang))
        body_prefix = prefix + ("   " if last else "│  ")
    if node.kind in ("input", "parameter") or node.repeated or node.withheld:
        return
    bar = "│ " if node.children else "  "
    detail = body_prefix + bar
    if node.description:
        lines.append(detail + f"« {node.description} »")
    if node.formula:
        formula = node.formula
        if _HIGHLIGHT:
            from pkrules.language.highlight import highlight_terminal

            formula = highlight_terminal(formula)
        for text in formula.split("\n"):
            lines.append(detail + text)
    for step in node.steps:
        mark = _MARKS.get(step.outcome or "", " ")
        lines.append(detail + (f"{mark} {step.text}" if step.outcome else f"  {step.text}"))
    for hint in node.hints:
        lines.append(detail + f"→ {hint}")
    if node.not_applicable:
        lines.append(detail + f"– {node.not_applicable}")
    for n, child in enumerate(node.children):
        _tree_lines(child, body_prefix, lines, lang, last=n == len(node.children) - 1)


# ---- the brief form: what a manager reads aloud --------------------------------------------

BRIEF_LINES = 10


def render_brief(explanation: Explanation) -> str:
    """At most ten lines a manager reads aloud: the value; the rule that decided it; the decisions below
    it (a band that fired, with the value it compared) and the largest amounts that went in; the inputs
    that mattered; the next band."""
    root = explanation.root
    lang = explanation.lang
    who = f"{explanation.key} ({explanation.label})" if explanation.label else str(explanation.key)
    if explanation.period:
        who += f", {explanation.period}"
    where = f"{explanation.policy_path}:{root.line}" if root.line else explanation.policy_path
    lines = [f"{who}: {root.name} = {root.display}   [{where}]"]
    rule = _named_sum(root, lang) or _deciding_step(root)
    if rule:
        lines.append(f"  {rule}")
    nodes = [n for n in _walk(root) if n is not root and n.kind not in ("input", "parameter") and not n.repeated and not n.withheld]
    by_name: dict[str, TraceNode] = {}
    for n in nodes:
        by_name.setdefault(n.name, n)
    room = BRIEF_LINES - len(lines) - 2  # two lines kept for the inputs and the next band
    picked: list[TraceNode] = []

    def pick(node: TraceNode | None) -> None:
        if node is not None and all(node is not p for p in picked) and len(picked) < room and _deciding_step(node):
            picked.append(node)

    # the largest amount that went into the root, the bands that decided things (with the value each
    # compared), then the other amounts
    amounts = sorted((c for c in root.children if c.kind not in ("input", "parameter") and _number(c.value) and not c.withheld),
                     key=lambda c: -abs(c.value))
    decisions = [n for n in nodes if n.kind == "table" and n.compared and not n.context]
    pick(amounts[0] if amounts else None)
    for table in decisions[:2]:
        pick(table)
        compared = by_name.get(table.compared)
        if compared is not None and compared.kind not in ("input", "parameter"):
            pick(compared)
    for node in amounts[1:]:
        pick(node)
    order = {id(n): k for k, n in enumerate(_walk(root))}
    for node in sorted(picked, key=lambda n: order.get(id(n), 0)):
        lines.append("  " + _brief_line(node, lang))
    inputs = _inputs_that_mattered(root, [d for d in decisions if any(d is p for p in picked)] + picked)
    if inputs:
        lines.append("  " + say(lang, "brief_inputs", inputs=say(lang, "list_sep").join(inputs)))
    hint = _next_band(root, [n for n in picked if n.kind == "table"])
    if hint:
        lines.append("  " + say(lang, "brief_next", hint=hint))
    return "\n".join(lines[:BRIEF_LINES])


def _brief_line(node: TraceNode, lang: str) -> str:
    """bonus = ¥9,216.00 = round(¥8,000.00 * 1.2 * 96%, 0.01) · coef = 1.2: IF score >= 90 THEN coef 1.2 (≈96.56 >= 90)"""
    head = f"{node.name} = {node.display}" + (f" ({node.context})" if node.context else "")
    step = _deciding_step(node) or ""
    ending = f" = {node.display}"
    if step.endswith(ending) and step != ending:
        step = step[: -len(ending)]  # a scorecard's sum ends with the value the line starts with
    if step.startswith("= "):
        return f"{head} {step}"
    return f"{head}{say(lang, 'colon')}{step}"


def _number(value: object) -> bool:
    return isinstance(value, (int, Fraction)) and not isinstance(value, bool) and value != 0


def _named_sum(node: TraceNode, lang: str) -> str | None:
    """= bonus ¥9,216.00 + commission ¥4,800.00 (others 0: special, elite): a sum read with its names."""
    if len(node.parts) < 2:
        return None
    children = {c.name: c for c in node.children}
    shown, zero = [], []
    for sign, name in node.parts:
        child = children.get(name)
        if child is None:
            return None
        if child.value == 0 and not child.withheld:
            zero.append(name)
            continue
        shown.append((sign, f"{name} {child.display}"))
    if not shown:
        return None
    text = "= " + ("" if shown[0][0] == "+" else "-") + shown[0][1]
    for sign, part in shown[1:]:
        text += f" {sign} {part}"
    if zero:
        text += " " + say(lang, "brief_others", names=say(lang, "list_sep").join(zero))
    return text


def _walk(node: TraceNode):
    yield node
    for child in node.children:
        yield from _walk(child)


def _deciding_step(node: TraceNode) -> str | None:
    """The one line that says how a value came about: the row that fired, the entry looked up, the formula.

    A value passed on unchanged (round(commission_raw, 0.01), score by level: 经理 score_mgr) is told
    by the step of the value it passes on.
    """
    same = [c for c in node.children if c.kind not in ("input", "parameter") and c.value == node.value and not c.withheld
            and not c.repeated and not c.context]
    if same and node.kind in ("lookup", "definition") and not node.parts and node.kind != "table":
        inner = _deciding_step(same[0])
        if inner:
            return f"{same[0].name} {inner}" if inner.startswith("= ") else f"{same[0].name} → {inner}"
    fired = [s for s in node.steps if s.outcome == "fired"]
    if fired:
        return " + ".join(s.text.strip() for s in fired[:2]) + (" …" if len(fired) > 2 else "")
    if node.kind == "weighted" and node.steps:
        return node.steps[-1].text
    formula = next((s.text for s in node.steps if s.text.startswith("= ")), None)
    population = next((s.text for s in node.steps if not s.text.startswith("= ") and not s.outcome), None)
    if population and (formula is None or len(formula.split()) <= 2):
        return population  # `= ¥1,398.29` says less than the split or the tiers it came from
    if formula:
        return formula
    return node.steps[0].text if node.steps else None


def _inputs_that_mattered(root: TraceNode, picked: list[TraceNode]) -> list[str]:
    """The employee's own inputs under the first decisions (at most four)."""
    out: list[str] = []
    sources = ([p for p in picked if p.kind in ("table", "lookup")] or picked or [root])[:2]
    for source in sources:
        for node in _walk(source):
            if node.kind == "input" and node.own and not node.context and not node.withheld:
                text = f"{node.name} {node.display}"
                if text not in out and node.type.kind not in ("text",):
                    out.append(text)
    return out[:4]


def _next_band(root: TraceNode, decisions: list[TraceNode] | None = None) -> str | None:
    """The first distance to a better band: of the bands the brief told (what decided the largest
    amounts) first, then nearest the top of the tree; else the first margin."""
    nodes = list(_walk(root))
    nodes.sort(key=lambda n: _depth_of(root, n))
    first = {id(n) for n in decisions or []}
    nodes = list(decisions or []) + [n for n in nodes if id(n) not in first]
    for node in nodes:
        for hint in node.hints:
            if hint and not node.context and _is_short_of(hint):
                return hint
    for node in nodes:
        if node.hints and not node.context:
            return node.hints[0]
    return None


def _is_short_of(hint: str) -> bool:
    return any(word in hint for word in ("short of", "还差"))


def _depth_of(root: TraceNode, target: TraceNode) -> int:
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if node is target:
            return depth
        stack.extend((c, depth + 1) for c in node.children)
    return 0


# ---- the statement sent to one employee -------------------------------------------------------


def render_markdown(explanation: Explanation) -> str:
    root = explanation.root
    lang = explanation.lang
    title = explanation.policy_title or explanation.policy_path
    who = f"{explanation.key} ({explanation.label})" if explanation.label else str(explanation.key)
    if explanation.period:
        who += f", {explanation.period}"
    out = [f"# {title}: {say(lang, 'for', name=root.name, who=who)}", ""]
    out.append(f"**{root.name} = {root.display}**")
    out.append("")
    inputs: dict[str, TraceNode] = {}
    computed: list[TraceNode] = []
    withheld: list[str] = []

    def collect(node: TraceNode) -> None:
        if node.withheld:
            if node.name not in withheld:
                withheld.append(node.name)
            return
        if node.kind in ("input", "parameter"):
            if node.own and not node.context:
                inputs.setdefault(node.name, node)
            return
        if node.repeated:
            return
        computed.append(node)
        for child in node.children:
            collect(child)

    collect(root)
    if inputs:
        out.append(f"## {say(lang, 'your_figures')}")
        out.append("")
        out.append(f"| {say(lang, 'item')} | {say(lang, 'value')} |")
        out.append("|---|---|")
        for node in inputs.values():
            out.append(f"| {node.name} | {node.display} |")
        out.append("")
    out.append(f"## {say(lang, 'how')}")
    marks = {"fired": say(lang, "applies"), "not met": say(lang, "not_met"), "not reached": say(lang, "not_reached")}
    for node in computed:
        out.append("")
        context = f" ({node.context})" if node.context else ""
        out.append(f"### {node.name} = {node.display}{context}")
        out.append("")
        if node.description:
            out.append(f"*{node.description}*")
            out.append("")
        if node.formula:
            out.append("```")
            out.append(node.formula)
            out.append("```")
            out.append("")
        for step in node.steps:
            mark = marks.get(step.outcome or "")
            out.append(f"- {step.text}" + (f" — {mark}" if mark else ""))
        for hint in node.hints:
            out.append(f"- *{hint}*")
        if node.not_applicable:
            out.append(f"- {node.not_applicable}")
        out.append(f"\n<sub>{say(lang, 'source_line', path=explanation.policy_path, n=node.line)}</sub>")
    if withheld:
        out.append("")
        out.append(f"<sub>{say(lang, 'not_published', names=say(lang, 'list_sep').join(withheld))}</sub>")
    return "\n".join(out).rstrip() + "\n"


def trace_to_data(node: TraceNode) -> dict:
    data: dict = {
        "name": node.name,
        "kind": node.kind,
        "value": None if node.withheld else json_value(node.value, node.type),
        "display": node.display,
        "type": node.type.output_kind,
        "line": node.line,
    }
    if node.context:
        data["context"] = node.context
    if node.withheld:
        data["withheld"] = True
    if node.formula is not None:
        data["formula"] = node.formula
    if node.description:
        data["description"] = node.description
    if node.steps:
        data["steps"] = [{"text": s.text, "line": s.line, **({"outcome": s.outcome} if s.outcome else {})} for s in node.steps]
    if node.hints:
        data["hints"] = node.hints
    if node.not_applicable:
        data["not_applicable"] = node.not_applicable
    if node.repeated:
        data["repeated"] = True
    if node.children:
        data["inputs"] = [trace_to_data(c) for c in node.children]
    return data


def render_json(explanation: Explanation) -> str:
    data = {
        "policy": explanation.policy_title,
        "file": explanation.policy_path,
        "employee": {explanation.key_name: json_value(explanation.key), "row": explanation.row},
        "explanation": trace_to_data(explanation.root),
    }
    if explanation.audience != "all":
        data["audience"] = explanation.audience
    return json.dumps(data, ensure_ascii=False, indent=2)


__all__ = ["render_tree", "render_brief", "render_markdown", "render_json", "trace_to_data", "format_value", "json_value"]
