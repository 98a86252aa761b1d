"""Every shipped policy with its sample data (and the related table it reads), for the tests that run them all."""

from __future__ import annotations

from pathlib import Path

POLICIES = Path(__file__).resolve().parent.parent / "policies"
SAMPLE = POLICIES / "sample"


def _shipped() -> list[tuple[str, str, dict[str, str]]]:
    cases = []
    for policy in sorted(POLICIES.glob("*.pk")):
        stem = policy.name[: -len(".pk")]
        base = stem.removesuffix(".zh")
        candidates = [f"{stem}.csv", f"{base}.zh.csv" if stem.endswith(".zh") else "", f"{base}.csv"]
        if base == "sales_incentive":
            candidates = ["employees.zh.csv" if stem.endswith(".zh") else "employees.csv"]
        data = next(SAMPLE / c for c in candidates if c and (SAMPLE / c).exists())
        related = {"ratings": str(SAMPLE / "ratings.csv")} if "input ratings by" in policy.read_text(encoding="utf-8") else {}
        cases.append((str(policy), str(data), related))
    return cases


# (policy, data, related tables) for every shipped policy
SHIPPED = _shipped()
# (policy, data) for those that read no related table
SHIPPED_ALONE = [(Path(policy), Path(data)) for policy, data, related in SHIPPED if not related]
