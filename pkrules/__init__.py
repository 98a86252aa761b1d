"""pkrules: a rules engine with a plain-language policy language for sales incentives and appraisal.

The public API is pkrules.api (compile, read a population, evaluate, explain, compare);
docs/architecture.md maps the layers behind it. Imports are lazy so that
`pkrules --help` starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "compile_text": "api", "compile_file": "api", "check_text": "api", "read_policy": "api",
    "read_population": "api", "population_from_rows": "api", "evaluate": "api", "explain": "api",
    "PolicyError": "api", "Diagnostic": "api", "Results": "api", "Explanation": "api", "TraceNode": "api",
    "RuleGraph": "api", "PkrulesError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pkrules' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"pkrules.{module}"), name)
