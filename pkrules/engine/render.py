"""Explanations rendered: a terminal tree, a Markdown statement for the employee, JSON."""

from __future__ import annotations

import json

from pkrules.engine.explain import Explanation, TraceNode
from pkrules.messages import say
from pkrules.values.format import format_value, json_value


# ---- explanations --------------------------------------------------------------------

_MARKS = {"fired": "✓", "not met": "✗", "not reached": "·"}
_HIGHLIGHT = False  # set for one render_tree call


def render_tree(explanation: Explanation, colour: bool = False) -> str:
    """The explanation as a terminal tree; with colour, formulas are syntax-highlighted."""
    root = explanation.root
    lang = explanation.lang
    global _HIGHLIGHT
    _HIGHLIGHT = colour
    key = f"{explanation.key} ({explanation.period})" if explanation.period else explanation.key
    lines = [say(lang, "why", key_name=explanation.key_name, key=key, name=root.name,
                 value=format_value(root.value, root.type, lang=lang)) + f"   ({explanation.policy_path})"]
    _tree_lines(root, "", lines, lang, is_root=True)
    return "\n".join(lines)


def _headline(node: TraceNode, lang: str) -> str:
    value = format_value(node.value, node.type, lang=lang)
    where = f"  [{say(lang, 'line', n=node.line)}]" if node.line else ""
    if node.kind in ("input", "parameter"):
        return f"{node.name} = {value}  ({say(lang, node.kind)})"
    if node.repeated:
        return f"{node.name} = {value}  ({say(lang, 'shown_above')}){where}"
    return f"{node.name} = {value}{where}"


def _tree_lines(node: TraceNode, prefix: str, lines: list[str], lang: str, is_root: bool = False, last: bool = True) -> None:
    if is_root:
        lines.append(_headline(node, lang))
        body_prefix = ""
    else:
        lines.append(prefix + ("└─ " if last else "├─ ") + _headline(node, lang))
        body_prefix = prefix + ("   " if last else "│  ")
    if node.kind in ("input", "parameter") or node.repeated:
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
    for n, child in enumerate(node.children):
        _tree_lines(child, body_prefix, lines, lang, last=n == len(node.children) - 1)


def render_markdown(explanation: Explanation) -> str:
    root = explanation.root
    lang = explanation.lang
    title = explanation.policy_title or explanation.policy_path
    who = f"{explanation.key} ({explanation.label})" if explanation.label else str(explanation.key)
    if explanation.period:
        who += f", {explanation.period}"
    out = [f"# {title}: {say(lang, 'for', name=root.name, who=who)}", ""]
    out.append(f"**{root.name} = {format_value(root.value, root.type, lang=lang)}**")
    out.append("")
    inputs: dict[str, TraceNode] = {}
    computed: list[TraceNode] = []

    def collect(node: TraceNode) -> None:
        if node.kind in ("input", "parameter"):
            inputs.setdefault(node.name, node)
            return
        if node.repeated:
            return
        computed.append(node)
        for child in node.children:
            collect(child)

    collect(root)
    out.append(f"## {say(lang, 'your_figures')}")
    out.append("")
    out.append(f"| {say(lang, 'item')} | {say(lang, 'value')} |")
    out.append("|---|---|")
    for node in inputs.values():
        out.append(f"| {node.name} | {format_value(node.value, node.type, lang=lang)} |")
    out.append("")
    out.append(f"## {say(lang, 'how')}")
    for node in computed:
        out.append("")
        out.append(f"### {node.name} = {format_value(node.value, node.type, lang=lang)}")
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
            mark = {"fired": say(lang, "applies"), "not met": say(lang, "not_met"),
                    "not reached": say(lang, "not_reached")}.get(step.outcome or "")
            out.append(f"- {step.text}" + (f" — {mark}" if mark else ""))
        for hint in node.hints:
            out.append(f"- *{hint}*")
        out.append(f"\n<sub>{say(lang, 'source_line', path=explanation.policy_path, n=node.line)}</sub>")
    return "\n".join(out).rstrip() + "\n"


def trace_to_data(node: TraceNode) -> dict:
    data: dict = {
        "name": node.name,
        "kind": node.kind,
        "value": json_value(node.value, node.type),
        "display": format_value(node.value, node.type),
        "type": node.type.output_kind,
        "line": node.line,
    }
    if node.formula is not None:
        data["formula"] = node.formula
    if node.description:
        data["description"] = node.description
    if node.steps:
        data["steps"] = [{"text": s.text, "line": s.line, **({"outcome": s.outcome} if s.outcome else {})} for s in node.steps]
    if node.hints:
        data["hints"] = node.hints
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
    return json.dumps(data, ensure_ascii=False, indent=2)
