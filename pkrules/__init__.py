"""pkrules: a rules engine with a plain-language policy language for sales incentives and appraisal.

The API (see engine.py): compile_policy / compile_file → RuleGraph;
evaluate(graph, rows) → Results; explain(results, index, name) → Explanation.
Imports are lazy so that `pkrules --help` starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "compile_policy": "engine", "compile_file": "engine", "check_source": "engine", "read_policy": "engine",
    "PolicyError": "diagnostics", "Diagnostic": "diagnostics",
    "evaluate": "evaluate", "Results": "evaluate",
    "explain": "explain", "Explanation": "explain", "TraceNode": "explain",
    "read_csv": "data", "RuleGraph": "rule_graph",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pkrules' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"pkrules.{module}"), name)
