"""The compiled policy: a DAG of named nodes (inputs and definitions) with their types."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from pkrules.language import ast
from pkrules.language.diagnostics import Diagnostic
from pkrules.language.source import SourceFile, Span
from pkrules.values.types import Type


@dataclass(frozen=True)
class NameRef:
    """What a name in a formula stands for."""

    kind: str  # node | enum | bool
    value: object  # the node's name, the enum value, or True/False


@dataclass
class Node:
    """One named value of the rule graph."""

    name: str
    kind: str  # input | parameter | definition | table | lookup | weighted
    decl: object  # ast.InputDecl or an ast declaration
    type: Type
    deps: tuple[str, ...]  # names used directly, in order of first use
    span: Span

    @property
    def is_input(self) -> bool:
        return self.kind == "input"

    @property
    def is_given(self) -> bool:
        """Given rather than computed: a data column, or a parameter of the run."""
        return self.kind in ("input", "parameter")


@dataclass
class RuleGraph:
    """A checked policy, ready to evaluate: nodes in dependency order."""

    source: SourceFile
    policy: ast.Policy
    nodes: dict[str, Node]
    order: list[str]  # definitions, each after everything it uses
    key: str
    # Keyed by the identity of AST nodes: the AST compares by value (the semantic diff needs
    # that), so two equal sub-expressions on different lines must be told apart by identity;
    # the graph holds the AST, so these identities stay valid as long as the graph lives.
    refs: dict[int, NameRef] = field(repr=False)  # id(ast.Name) → meaning
    types: dict[int, Type] = field(repr=False)  # id(expression) → type
    diagnostics: list[Diagnostic] = field(default_factory=list)
    lookup_tables: dict[str, tuple[dict, dict]] = field(default_factory=dict, repr=False)  # name → (key → value, key → file line)
    period: str | None = None  # the input that says which period a row is for, when the data has several
    related: dict[str, tuple[ast.RelatedTable, dict[str, Type]]] = field(default_factory=dict, repr=False)
    # Definitions that use each other's earlier values (a running total): each name → its group, in the order
    # of one period; the group is evaluated period after period.
    recursive: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # What each definition reads only in earlier periods (previous(x), sum x earlier this year)
    delayed: dict[str, set[str]] = field(default_factory=dict, repr=False)

    # A copy (pickle: language/policy_cache.py keeps checked policies between commands) holds only the
    # fields, not the caches kept beside them; and since a copy's AST nodes have new identities, the
    # identity-keyed tables travel as (node, value) pairs and are keyed again when the copy is made.
    def __getstate__(self) -> dict:
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        held = _held_objects(self)
        for table in ("refs", "types"):
            keyed = getattr(self, table)
            missing = [k for k in keyed if k not in held]
            if missing:  # (a node the graph does not hold: a copy could not find it again)
                raise TypeError(f"the rule graph's {table} name {len(missing)} object(s) it does not hold")
            state[table] = [(held[k], value) for k, value in keyed.items()]
        return state

    def __setstate__(self, state: dict) -> None:
        for table in ("refs", "types"):
            state[table] = {id(node): value for node, value in state[table]}
        self.__dict__.update(state)

    @property
    def inputs(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_input]

    @property
    def parameters(self) -> list[Node]:
        """Values given when the policy runs (--param), the same for every row."""
        return [n for n in self.nodes.values() if n.kind == "parameter"]

    @property
    def definitions(self) -> list[Node]:
        """Definitions in the order the policy wrote them (the output columns)."""
        return [n for n in self.nodes.values() if not n.is_given]

    def dependents(self) -> dict[str, list[str]]:
        """Each node's users. Worked out once (asked for every employee explained); callers only read it."""
        users = self.__dict__.get("_dependents")
        if users is None:
            users = {name: [] for name in self.nodes}
            for node in self.nodes.values():
                for dep in node.deps:
                    users[dep].append(node.name)
            self.__dict__["_dependents"] = users
        return users

    def policy_outputs(self) -> list[str]:
        """The outputs the policy declares (`output total, team_rank`), if it declares any."""
        if self.policy.outputs is None:
            return []
        return [n.name for n in self.policy.outputs.names]

    def outputs(self) -> list[str]:
        """What the policy is for: its declared outputs, else the definitions nothing else uses."""
        declared = self.policy_outputs()
        if declared:
            return declared
        return self.sinks()

    def sinks(self) -> list[str]:
        """The definitions nothing else uses (a running total's own earlier values do not count)."""
        users = self.dependents()
        return [n.name for n in self.definitions
                if not [u for u in users[n.name] if n.name not in self.recursive.get(u, ())]]

    def formula(self, name: str) -> str:
        """The definition as written in the policy."""
        cache = self.__dict__.setdefault("_formulas", {})  # (asked for every employee explained)
        if name not in cache:
            cache[name] = self._formula(name)
        return cache[name]

    def _formula(self, name: str) -> str:
        node = self.nodes[name]
        lines = self.source.snippet(node.span).rstrip().split("\n")
        # A statement's span runs to the next statement, over comments and blank lines.
        while len(lines) > 1 and (not lines[-1].strip() or lines[-1].strip().startswith("#")):
            lines.pop()
        return "\n".join(lines)

    def description(self, name: str) -> str | None:
        """The comment the author wrote above a definition (or at the end of its line): its rule in their words."""
        cache = self.__dict__.setdefault("_descriptions", {})  # (asked for every employee explained)
        if name not in cache:
            cache[name] = self._description(name)
        return cache[name]

    def _description(self, name: str) -> str | None:
        node = self.nodes[name]
        lines = self.source.text.replace("\r\n", "\n").split("\n")
        start = node.span.line
        words: list[str] = []
        n = start - 1
        while n >= 1 and lines[n - 1].strip().startswith("#"):
            words.insert(0, lines[n - 1].strip().lstrip("#").strip())
            n -= 1
        if not words and 1 <= start <= len(lines):
            from pkrules.language.source import find_comments

            trailing = [c for c in find_comments(lines[start - 1]) if not c.full_line]
            if trailing:
                words.append(trailing[0].text.lstrip("#").strip())
        text = " ".join(w for w in words if w)
        return text or None

    def main_output(self) -> str:
        """The output that rests on the most of the policy (total, usually)."""
        found = self.__dict__.get("_main_output")
        if found is None:
            found = self.__dict__["_main_output"] = self._main_output()  # (asked for every employee explained)
        return found

    def _main_output(self) -> str:
        def reach(name: str, seen: set[str]) -> set[str]:
            for dep in self.nodes[name].deps:
                if dep not in seen:
                    seen.add(dep)
                    reach(dep, seen)
            return seen

        outputs = self.outputs() or [n.name for n in self.definitions]
        return max(outputs, key=lambda name: len(reach(name, set())))


def _held_objects(graph: RuleGraph) -> dict[int, object]:
    """Everything the graph's fields hold (AST nodes, their parts), by identity."""
    held: dict[int, object] = {}
    atoms = (str, int, float, bool, type(None), bytes)
    pending: list[object] = [getattr(graph, f.name) for f in fields(graph) if f.name not in ("refs", "types")]
    while pending:
        item = pending.pop()
        if isinstance(item, atoms) or id(item) in held:
            continue
        held[id(item)] = item
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
        elif hasattr(item, "__dict__"):
            pending.extend(vars(item).values())
        elif hasattr(item, "__slots__"):
            pending.extend(getattr(item, name) for name in item.__slots__ if hasattr(item, name))
    return held
