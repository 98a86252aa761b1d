"""The engine's public API: compile a policy, evaluate a population, explain a value.

This is what the CLI, the workflow store and the TUI call; none of them needs
to reach into the stages behind it.
"""

from __future__ import annotations

from pathlib import Path

from pkrules.errors import PkrulesError
from pkrules.language.diagnostics import Diagnostic, PolicyError
from pkrules.language.rule_graph import RuleGraph
from pkrules.language.source import SourceFile
from pkrules.messages import speaking, tr


class PolicyFileError(PkrulesError):
    """A policy file that cannot be read at all."""


def read_policy(path: str | Path) -> SourceFile:
    from pkrules.files import read_bytes

    return decode_policy(read_bytes(path, PolicyFileError, tr("name a policy file (.pk)")), str(path))


def decode_policy(raw: bytes, shown: str) -> SourceFile:
    """Policy bytes (from a file or a git revision) → SourceFile, or PolicyFileError."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise PolicyFileError(tr("{path}: not UTF-8 text (byte {byte}); save the policy as UTF-8", path=shown,
                                 byte=e.start)) from None
    if "\x00" in text:
        raise PolicyFileError(tr("{path}: this is not a text file", path=shown))
    return SourceFile(shown, text)


def source_language(source: SourceFile) -> str:
    """The language a policy's text is written in ('zh' or 'en'), even when it does not parse."""
    from pkrules.language.keywords import policy_language

    return policy_language(source.text)


def check_source(source: SourceFile, reuse: bool = False) -> tuple[RuleGraph | None, list[Diagnostic]]:
    """Parse and check; the graph is None when there are errors. Warnings come back too.

    Diagnostics are written in the policy's language (or the user's --lang): render
    them in the same one, e.g. `with speaking(source_language(source))`.
    reuse: take the check kept from an earlier command when the policy has not changed (and keep this
    one; language/policy_cache.py): for a command's policy, not for a program checking many texts.
    """
    with speaking(source_language(source)):
        if reuse:
            from pkrules.language.policy_cache import reuse_or_check

            return reuse_or_check(source, _check_source)
        return _check_source(source)


def _check_source(source: SourceFile) -> tuple[RuleGraph | None, list[Diagnostic]]:
    from pkrules.language.check import check
    from pkrules.language.parse import parse_policy

    policy, diagnostics = parse_policy(source)
    if policy is None:
        return None, diagnostics
    from pkrules.language.lookalikes import lookalikes

    diagnostics = diagnostics + lookalikes(policy)  # bonus and bоnus: said even when the policy has errors
    graph, more = check(source, policy)
    if graph is None:
        return None, diagnostics + more
    from pkrules.language.analysis import analyse

    found = analyse(graph)
    everything = diagnostics + more + found
    graph.diagnostics = list(everything)
    if any(d.is_error for d in found):
        return None, everything
    return graph, everything


def compile_policy(text: str, path: str = "<policy>", reuse: bool = False) -> RuleGraph:
    """Policy text → checked rule graph, or PolicyError listing every problem (reuse: as check_source)."""
    return _compile(SourceFile(path, text), reuse)


def compile_file(path: str | Path) -> RuleGraph:
    return _compile(read_policy(path))


def _compile(source: SourceFile, reuse: bool = False) -> RuleGraph:
    with speaking(source_language(source)):  # the error's text is rendered in the policy's language
        graph, diagnostics = check_source(source, reuse)
        if graph is None:
            raise PolicyError(source, diagnostics)
    return graph
