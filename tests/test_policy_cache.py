"""Checked policies kept between commands (language/policy_cache.py): a command on an unchanged policy reads
its check back instead of parsing it again, and what it reads computes and explains exactly as a fresh check.

Every case here has its own cache folder (XDG_CACHE_HOME); a spy counts the real checks.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

from columnar_strategies import policies, populations
from shipped import SHIPPED
from pkrules.cli import main
from pkrules.engine.backend import evaluate
from pkrules.engine.explain import explain
from pkrules.engine.population import Population, open_population
from pkrules.engine.render import render_json, render_tree
from pkrules.language import compile as compile_module, policy_cache
from pkrules.language.compile import compile_file, compile_policy
from pkrules.language.diagnostics import PolicyError

ROOT = Path(__file__).resolve().parent.parent
POLICY = str(ROOT / "policies" / "sales_incentive.pk")
SAMPLE = str(ROOT / "policies" / "sample" / "employees.csv")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder of this test's own, and the number of real checks made so far (checks["n"])."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PKRULES_NO_CACHE", raising=False)
    checks = {"n": 0}
    real = compile_module._check_source

    def counted(source):
        checks["n"] += 1
        return real(source)

    monkeypatch.setattr(compile_module, "_check_source", counted)
    return checks


def kept(tmp_path) -> list[Path]:
    folder = tmp_path / "cache" / "pkrules" / "policies"
    return sorted(folder.glob("policy-*.pickle")) if folder.exists() else []


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_second_command_on_the_same_policy_reads_the_kept_check_and_prints_the_same(cache, tmp_path, capsys):
    first = run(capsys, "run", POLICY, SAMPLE, "--columns", "total,team_rank")
    assert cache["n"] == 1 and len(kept(tmp_path)) == 1
    second = run(capsys, "run", POLICY, SAMPLE, "--columns", "total,team_rank")
    explained = run(capsys, "explain", POLICY, SAMPLE, "E007", "total")
    assert cache["n"] == 1  # neither parsed it again
    assert second == first and first[0] == 0 and "E040" in first[1]
    assert explained[0] == 0 and "E007" in explained[1]
    # the kept file is the user's alone
    assert kept(tmp_path)[0].stat().st_mode & 0o077 == 0


def test_explaining_from_a_kept_run_reads_the_kept_check_of_the_policy_it_holds(cache, tmp_path, capsys):
    run_file = str(tmp_path / "run.pkrun")
    assert run(capsys, "run", POLICY, SAMPLE, "--out", str(tmp_path / "r.csv"), "--keep", run_file)[0] == 0
    # the run holds its policy's text and path: the same as the file's, so the check the run made is read
    first = run(capsys, "explain", "--run", run_file, "E007", "total")
    again = run(capsys, "explain", "--run", run_file, "E007", "total")
    assert cache["n"] == 1 and again == first and first[0] == 0 and "E007" in first[1]
    # a kept run whose policy file has since changed still explains with the policy it was computed with
    moved = tmp_path / "p.pk"
    moved.write_text(Path(POLICY).read_text(encoding="utf-8"), encoding="utf-8")
    other = str(tmp_path / "other.pkrun")
    assert run(capsys, "run", str(moved), SAMPLE, "--out", str(tmp_path / "o.csv"), "--keep", other)[0] == 0
    moved.write_text(moved.read_text(encoding="utf-8").replace("coef 1.2", "coef 1.3"), encoding="utf-8")
    assert run(capsys, "explain", "--run", other, "E007", "total")[1] == first[1].replace(POLICY, str(moved))


def test_a_changed_policy_is_checked_again(cache, tmp_path, capsys):
    policy = tmp_path / "p.pk"
    text = Path(POLICY).read_text(encoding="utf-8")
    policy.write_text(text, encoding="utf-8")
    before = run(capsys, "run", str(policy), SAMPLE, "--columns", "total")
    policy.write_text(text.replace("IF score >= 90 THEN coef 1.2", "IF score >= 90 THEN coef 1.3"), encoding="utf-8")
    after = run(capsys, "run", str(policy), SAMPLE, "--columns", "total")
    assert cache["n"] == 2 and before[1] != after[1]
    policy.write_text(text, encoding="utf-8")  # back as it was: the first check is still kept
    assert run(capsys, "run", str(policy), SAMPLE, "--columns", "total") == before and cache["n"] == 2


def test_the_language_of_the_messages_and_pkrules_itself_are_part_of_what_a_check_is_kept_by(cache, tmp_path,
                                                                                               capsys, monkeypatch):
    policy = tmp_path / "p.pk"
    policy.write_text(Path(POLICY).read_text(encoding="utf-8") + "unused_thing = sales * 2\n", encoding="utf-8")
    english = run(capsys, "run", str(policy), SAMPLE, "--columns", "total", "--lang", "en")
    chinese = run(capsys, "run", str(policy), SAMPLE, "--columns", "total", "--lang", "zh")
    assert cache["n"] == 2 and len(kept(tmp_path)) == 2
    assert run(capsys, "run", str(policy), SAMPLE, "--columns", "total", "--lang", "zh") == chinese
    assert cache["n"] == 2 and english != chinese
    # another pkrules (an upgrade, an edited module) never reads what this one kept
    policy_cache._pkrules_itself.cache_clear()
    monkeypatch.setattr(policy_cache, "_pkrules_itself", lambda: "pkrules 9.9")
    assert run(capsys, "run", str(policy), SAMPLE, "--columns", "total", "--lang", "zh") == chinese
    assert cache["n"] == 3


def test_pkrules_itself_is_told_apart_by_every_file_of_it(tmp_path, monkeypatch):
    policy_cache._pkrules_itself.cache_clear()
    before = policy_cache._pkrules_itself()
    module = Path(policy_cache.__file__)
    stamp = module.stat()
    try:
        os.utime(module, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
        policy_cache._pkrules_itself.cache_clear()
        assert policy_cache._pkrules_itself() != before
    finally:
        os.utime(module, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        policy_cache._pkrules_itself.cache_clear()
    assert policy_cache._pkrules_itself() == before


def test_a_policy_that_reads_lookup_files_is_checked_every_time_so_that_an_edited_file_counts(cache, tmp_path, capsys):
    folder = tmp_path / "policy"
    folder.mkdir()
    for name in ("region_product.pk", "regions.csv", "products.csv"):
        (folder / name).write_bytes((ROOT / "policies" / name).read_bytes())
    data = str(ROOT / "policies" / "sample" / "region_product.csv")
    before = run(capsys, "run", str(folder / "region_product.pk"), data)
    regions = (folder / "regions.csv").read_text(encoding="utf-8").splitlines()
    header, first = regions[0], regions[1].split(",")
    first[-1] = str(int(float(first[-1]) * 10) if first[-1].replace(".", "").isdigit() else first[-1])
    (folder / "regions.csv").write_text("\n".join([header, ",".join(first)] + regions[2:]) + "\n", encoding="utf-8")
    after = run(capsys, "run", str(folder / "region_product.pk"), data)
    assert kept(tmp_path) == [] and cache["n"] == 2
    assert before[0] == 0 and before[1] != after[1]


def test_a_policy_with_errors_is_not_kept_and_its_errors_are_said_every_time(cache, tmp_path, capsys):
    policy = tmp_path / "bad.pk"
    policy.write_text('policy "x"\ninput\n  id: text key\npay = nothing + 1\n', encoding="utf-8")
    first = run(capsys, "run", str(policy), SAMPLE)
    assert run(capsys, "run", str(policy), SAMPLE) == first
    assert first[0] == 1 and "nothing" in first[2] and kept(tmp_path) == [] and cache["n"] == 2


@pytest.mark.parametrize("damage", ["garbage", "another user could write it", "not a check"])
def test_a_broken_or_foreign_kept_file_is_ignored(cache, tmp_path, capsys, damage):
    first = run(capsys, "run", POLICY, SAMPLE, "--columns", "total")
    [path] = kept(tmp_path)
    if damage == "garbage":
        path.write_bytes(b"\x80\x05 not a pickle")
    elif damage == "another user could write it":
        path.chmod(0o666)
    else:
        path.write_bytes(pickle.dumps(("a tuple", "of two things")))
    assert run(capsys, "run", POLICY, SAMPLE, "--columns", "total") == first
    assert cache["n"] == 2  # checked again, said nothing


def test_nothing_is_kept_when_asked_or_when_the_folder_cannot_be_made(cache, tmp_path, capsys, monkeypatch):
    from pkrules.language import grammar

    monkeypatch.setenv("PKRULES_NO_CACHE", "1")
    first = run(capsys, "run", POLICY, SAMPLE, "--columns", "total")
    assert run(capsys, "run", POLICY, SAMPLE, "--columns", "total") == first and cache["n"] == 2
    assert kept(tmp_path) == [] and grammar._cache_file() is None  # (nor the parser's tables)
    monkeypatch.delenv("PKRULES_NO_CACHE")
    in_the_way = tmp_path / "a file"
    in_the_way.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(in_the_way))
    assert run(capsys, "run", POLICY, SAMPLE, "--columns", "total") == first and cache["n"] == 3


def test_only_the_most_recently_used_checks_are_kept(cache, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(policy_cache, "MAX_KEPT", 3)
    text = Path(POLICY).read_text(encoding="utf-8")
    oldest = None
    folder = tmp_path / "cache" / "pkrules" / "policies"
    folder.mkdir(parents=True)
    left, recent = folder / ".writing-left-by-a-killed-command", folder / ".writing-by-a-command-now"
    left.write_bytes(b"half")
    recent.write_bytes(b"half")
    os.utime(left, ns=(1, 1))
    for n in range(5):
        policy = tmp_path / f"p{n}.pk"  # (the same text under another name: kept apart)
        policy.write_text(text, encoding="utf-8")
        assert run(capsys, "run", str(policy), SAMPLE, "--columns", "total")[0] == 0
        if n == 1:
            oldest = kept(tmp_path)[1]
            os.utime(oldest, ns=(1, 1))  # last used long ago
    assert len(kept(tmp_path)) == 3 and oldest not in kept(tmp_path) and cache["n"] == 5
    assert not left.exists() and recent.exists()  # (another command may be writing that one)


@pytest.mark.parametrize("policy,data,related", SHIPPED, ids=[Path(p).name for p, _, _ in SHIPPED])
def test_a_kept_check_of_every_shipped_policy_computes_and_explains_as_a_fresh_one(policy, data, related):
    fresh = compile_file(policy)
    copy = pickle.loads(pickle.dumps(fresh))
    assert copy is not fresh and copy.types.keys() != fresh.types.keys()  # (new identities, keyed again)
    assert copy.policy == fresh.policy and list(copy.nodes) == list(fresh.nodes)
    for engine in ("exact", "fast"):
        want = evaluate(fresh, open_population(fresh, data, related), engine)
        got = evaluate(copy, open_population(copy, data, related), engine)
        assert got.columns == want.columns and [e.message for e in got.errors] == [e.message for e in want.errors]
        names = [n.name for n in fresh.definitions]
        for row in range(0, want.size, max(1, want.size // 7)):
            for name in names:
                a, b = explain(want, row, name), explain(got, row, name)
                assert render_tree(b) == render_tree(a) and render_json(b) == render_json(a)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=policies(max_definitions=6), rows=populations(max_size=10))
def test_a_kept_check_of_any_policy_computes_and_explains_as_a_fresh_one(text, rows):
    try:
        fresh = compile_policy(text)
    except PolicyError:
        assume(False)
    copy = pickle.loads(pickle.dumps(fresh))
    want = evaluate(fresh, Population(fresh, rows), "exact")
    got = evaluate(copy, Population(copy, rows), "exact")
    assert got.columns == want.columns and [e.message for e in got.errors] == [e.message for e in want.errors]
    failed = want.failed_rows()
    for row in range(want.size):
        for name in [n.name for n in fresh.definitions]:
            if row in failed and want.columns[name][row] is None:
                continue
            assert render_tree(explain(got, row, name)) == render_tree(explain(want, row, name))


def test_the_cache_folders_are_narrowed_to_the_user_under_a_group_writable_umask(tmp_path, monkeypatch):
    # umask 002 (common where a group shares files) makes folders the group can write into: pkrules narrows its
    # own, and uses them (before, lark's tables were silently never kept)
    from pkrules.files import private_cache_folder
    from pkrules.language import grammar

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "cache" / "pkrules").mkdir(parents=True)
    (tmp_path / "cache" / "pkrules").chmod(0o775)
    old = os.umask(0o002)
    try:
        folder = private_cache_folder("pkrules", "policies")
        assert grammar._cache_file() is not None
    finally:
        os.umask(old)
    assert folder == tmp_path / "cache" / "pkrules" / "policies"
    for each in (folder, folder.parent):
        assert each.stat().st_mode & 0o022 == 0  # no one else may write into them
    assert folder.stat().st_mode & 0o777 == 0o700
