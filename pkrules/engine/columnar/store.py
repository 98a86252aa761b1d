"""A fast-path run kept on disk: every exact column, so that explaining an employee needs no recomputation.

    save_run(results, "run.parquet")       # run.parquet + run.parquet.json
    results = load_run(graph, "run.parquet")
    explain(results, results.index_of("E042"), "total")

The Parquet file holds the run's frame: every input, definition and population term
as exact integer columns (numerators; denominators as columns or constants). The JSON
beside it says how to read them (the denominators, the ranges, how each population term
was grouped — as polars expressions) and the SHA-256 of the policy text: a run is only
loaded with the policy it was computed with. (The appraisal store of a later issue can
keep the same two things.)
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import polars as pl

from pkrules.errors import PkrulesError
from pkrules.engine import plan as P
from pkrules.engine.plan import compile_plan
from pkrules.engine.columnar.numeric import Den, IntE
from pkrules.engine.columnar.values import ColMeta, Factor, NumV, PlainV, TermInfo
from pkrules.engine.columnar.results import ColumnarResults
from pkrules.messages import tr

VERSION = 1


class RunFileError(PkrulesError):
    """A stored run that cannot be used (another policy, another format)."""


def _policy_hash(graph) -> str:
    return hashlib.sha256(graph.source.text.encode("utf-8")).hexdigest()


def _terms_in_order(plan: P.Plan) -> list:
    """The plan's terms that read other rows, in a stable order (the same for the same policy)."""
    seen: set[int] = set()
    out = []
    for node in plan.nodes:
        for e in P.walk(node.expr):
            if isinstance(e, P.ACROSS_ROWS) and id(e) not in seen:
                seen.add(id(e))
                out.append(e)
    return out


# ---- saving ---------------------------------------------------------------------------------


class _Writer:
    def __init__(self, results: ColumnarResults):
        self.results = results
        self.factor_names: dict[object, str] = {}

    def expr(self, e: pl.Expr | None):
        return None if e is None else e.meta.serialize(format="json")

    def den(self, den: Den | None):
        if den is None:
            return None
        return [den.c, [[self.factor(fid), m] for fid, m in den.factors]]

    def factor(self, fid) -> str:
        if fid not in self.factor_names:
            self.factor_names[fid] = f"f{len(self.factor_names)}"
        return self.factor_names[fid]

    def meta(self, m: ColMeta | list | None):
        if m is None:
            return None
        if isinstance(m, list):
            return [self.meta(x) for x in m]
        return {"kind": m.kind, "den": self.den(m.den), "lo": str(m.lo), "hi": str(m.hi)}

    def value(self, v):
        if v is None:
            return None
        if isinstance(v, NumV):
            return {"n": self.expr(v.n.expr), "lo": str(v.n.lo), "hi": str(v.n.hi), "den": self.den(v.den)}
        return {"expr": self.expr(v.expr), "kind": v.kind}

    def parts(self, parts: dict) -> dict:
        out = {}
        for key, v in parts.items():
            if key in ("group_meta", "period_meta"):
                out[key] = self.meta(v)
            elif key in ("operand", "pool", "weight"):
                out[key] = self.value(v)
            elif key == "keys":
                out[key] = [self.expr(k) for k in v]
            elif isinstance(v, list):
                out[key] = {"list": [self.expr(x) for x in v]}
            else:
                out[key] = self.expr(v)
        return out


def save_run(results: ColumnarResults, path) -> None:
    path = Path(path)
    w = _Writer(results)
    order = {id(t): k for k, t in enumerate(_terms_in_order(results.plan))}
    meta = {name: w.meta(m) for name, m in results.meta.items()}
    terms = []
    for term_id, info in results.terms.items():
        if term_id not in order:
            continue
        terms.append({"index": order[term_id], "column": info.column, "err_column": info.err_column,
                      "meta": w.meta(info.meta), "parts": w.parts(info.parts)})
    factors = {}
    for fid, name in list(w.factor_names.items()):
        f = results.factors[fid].n
        factors[name] = {"expr": w.expr(f.expr), "lo": str(f.lo), "hi": str(f.hi)}
    document = {"version": VERSION, "policy_sha256": _policy_hash(results.graph), "policy": results.graph.source.path,
                "meta": meta, "factors": factors, "terms": terms, "exact_nodes": results.exact_nodes}
    frame = results.frame.with_columns(pl.Series("#row", results.row_numbers, dtype=pl.Int64))
    from pkrules.files import atomic_path, atomic_write

    with atomic_path(path) as temporary:
        frame.write_parquet(temporary)
    with atomic_write(str(path) + ".json") as handle:
        handle.write(json.dumps(document, ensure_ascii=False))


# ---- loading --------------------------------------------------------------------------------


class _Reader:
    def __init__(self, factors: dict):
        self.factors = factors

    def expr(self, text):
        return None if text is None else pl.Expr.deserialize(io.StringIO(text), format="json")

    def den(self, data):
        if data is None:
            return None
        c, factors = data
        return Den(c, tuple((name, m) for name, m in factors))

    def meta(self, data):
        if data is None:
            return None
        if isinstance(data, list):
            return [self.meta(x) for x in data]
        return ColMeta(data["kind"], self.den(data["den"]), int(data["lo"]), int(data["hi"]))

    def value(self, data):
        if data is None:
            return None
        if "n" in data:
            return NumV(IntE(self.expr(data["n"]), int(data["lo"]), int(data["hi"])), self.den(data["den"]))
        return PlainV(self.expr(data["expr"]), data["kind"])

    def parts(self, data: dict) -> dict:
        out = {}
        for key, v in data.items():
            if key in ("group_meta", "period_meta"):
                out[key] = self.meta(v)
            elif key in ("operand", "pool", "weight"):
                out[key] = self.value(v)
            elif key == "keys":
                out[key] = [self.expr(k) for k in v]
            elif isinstance(v, dict) and "list" in v:
                out[key] = [self.expr(x) for x in v["list"]]
            else:
                out[key] = self.expr(v)
        return out


def load_run(graph, path) -> ColumnarResults:
    """A run saved by save_run, for the policy it was computed with."""
    path = Path(path)
    try:
        document = json.loads(Path(str(path) + ".json").read_text(encoding="utf-8"))
        frame = pl.read_parquet(path)
    except (OSError, ValueError) as e:
        raise RunFileError(tr("{path}: not a stored run ({problem})", path=path, problem=e)) from None
    if document.get("version") != VERSION:
        raise RunFileError(tr("{path}: a stored run of another format (version {version})", path=path,
                              version=document.get("version")))
    if document["policy_sha256"] != _policy_hash(graph):
        raise RunFileError(tr("{path}: this run was computed with another version of the policy ({policy}); run it again",
                              path=path, policy=document.get("policy")))
    factors = {}
    reader = _Reader(factors)
    for name, data in document["factors"].items():
        factors[name] = Factor(IntE(reader.expr(data["expr"]), int(data["lo"]), int(data["hi"])))
    meta = {name: reader.meta(m) for name, m in document["meta"].items()}
    plan = compile_plan(graph)
    ordered = _terms_in_order(plan)
    terms = {}
    for t in document["terms"]:
        term = ordered[t["index"]]
        terms[id(term)] = TermInfo(term, t["column"], reader.meta(t["meta"]), reader.parts(t["parts"]), t["err_column"])
    row_numbers = frame.get_column("#row").to_list()
    return ColumnarResults(graph, plan, frame.drop("#row"), meta, factors, row_numbers, document["exact_nodes"], terms)
