"""The engine's public API: compile a policy, evaluate a population, explain a value.

This is what the CLI, the workflow store and the TUI call; none of them needs
to reach into the stages behind it.
"""

from __future__ import annotations

from pathlib import Path

from .diagnostics import Diagnostic, PolicyError
from .rule_graph import RuleGraph
from .source import SourceFile


class PolicyFileError(Exception):
    """A policy file that cannot be read at all."""


def read_policy(path: str | Path) -> SourceFile:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PolicyFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PolicyFileError(f"{path}: is a folder; name a policy file (.pk)") from None
    except OSError as e:
        raise PolicyFileError(f"{path}: cannot read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise PolicyFileError(f"{path}: not UTF-8 text (byte {e.start}); save the policy as UTF-8") from None
    if "\x00" in text:
        raise PolicyFileError(f"{path}: this is not a text file")
    return SourceFile(str(path), text)


def check_source(source: SourceFile) -> tuple[RuleGraph | None, list[Diagnostic]]:
    """Parse and check; the graph is None when there are errors. Warnings come back too."""
    from .check import check
    from .parse import parse_policy

    policy, diagnostics = parse_policy(source)
    if policy is None:
        return None, diagnostics
    graph, more = check(source, policy)
    if graph is None:
        return None, diagnostics + more
    from .analysis import analyse

    found = analyse(graph)
    everything = diagnostics + more + found
    graph.diagnostics = list(everything)
    if any(d.is_error for d in found):
        return None, everything
    return graph, everything


def compile_policy(text: str, path: str = "<policy>") -> RuleGraph:
    """Policy text → checked rule graph, or PolicyError listing every problem."""
    source = SourceFile(path, text)
    graph, diagnostics = check_source(source)
    if graph is None:
        raise PolicyError(source, diagnostics)
    return graph


def compile_file(path: str | Path) -> RuleGraph:
    source = read_policy(path)
    graph, diagnostics = check_source(source)
    if graph is None:
        raise PolicyError(source, diagnostics)
    return graph
