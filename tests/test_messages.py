"""The message catalogue: every sentence said through tr() has its Chinese, with the same placeholders."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from pkrules.messages import choose_language, joined, keyed_words, msg, speaking, tr
from pkrules.messages import diff, explain, impact
from pkrules.messages.zh import TRANSLATIONS

ROOT = Path(__file__).resolve().parents[1]


def _said() -> dict[str, str]:
    """Every literal template passed to tr() (or msg(), tr said later) in pkrules/, with where it is."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "pkrules").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("tr", "msg")
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                ctx = next((k.value.value for k in node.keywords if k.arg == "ctx" and isinstance(k.value, ast.Constant)), None)
                key = f"{ctx}\x04{node.args[0].value}" if ctx else node.args[0].value
                found.setdefault(key, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template.split("\x04")[-1]) if name}


def test_every_sentence_has_its_chinese():
    missing = [f"{where}: {text!r}" for text, where in _said().items() if text not in TRANSLATIONS]
    assert not missing, "no Chinese for:\n" + "\n".join(missing)


def test_translations_keep_the_placeholders():
    # Chinese may leave out a placeholder English needs (a plural ending), never add one.
    wrong = [f"{en!r} → {zh!r}" for en, zh in TRANSLATIONS.items() if not _fields(zh) <= _fields(en)]
    assert not wrong, "\n".join(wrong)


def test_no_translation_is_left_over():
    said = _said()
    unused = [en for en in TRANSLATIONS if en not in said]
    assert not unused, "translations no code says any more:\n" + "\n".join(map(repr, unused))


def test_keyed_words_exist_in_both_languages_with_the_same_placeholders():
    for catalogue in (explain.MESSAGES, diff.MESSAGES, impact.MESSAGES):
        assert catalogue["en"].keys() == catalogue["zh"].keys()
        for key, en in catalogue["en"].items():
            assert _fields(catalogue["zh"][key]) <= _fields(en), key


def test_one_keyed_catalogue_no_key_means_two_things():
    # say() looks in all three at once: a key in two of them must be the same words.
    seen: dict[str, tuple] = {}
    for catalogue in (explain.MESSAGES, diff.MESSAGES, impact.MESSAGES):
        for key in catalogue["en"]:
            words = (catalogue["en"][key], catalogue["zh"][key])
            assert seen.setdefault(key, words) == words, key
    assert set(keyed_words()["zh"]) == set(seen)


def test_a_sentence_said_later_is_said_in_the_language_asked():
    refusal = msg("only {e}, who filed appeal #{i}, may {w}", e="E013", i=2, w=msg("withdraw it"))
    assert refusal.en == "only E013, who filed appeal #2, may withdraw it"
    assert refusal.zh == "只有提出申诉 #2 的 E013 可以撤回"
    both = joined(msg("; "), [msg("you cannot decide your own appeal"), msg("already acknowledged")])
    assert both.in_("zh") == "不能裁决自己的申诉；已确认过" and both.in_("en").count("; ") == 1
    try:
        choose_language("en")  # the user's --lang wins over the cycle's language
        assert refusal.in_("zh") == refusal.en
    finally:
        choose_language(None)


def test_one_english_word_with_two_meanings_has_two_chinese_words():
    with speaking("zh"):
        assert (tr("name"), tr("name", ctx="person")) == ("项目", "姓名")
    with speaking("en"):
        assert tr("name", ctx="person") == "name"


def test_the_policy_language_is_spoken_unless_the_user_chose():
    text = next(iter(TRANSLATIONS), None)
    if text is None:
        pytest.skip("no sentences yet")
    values = {name: "x" for name in _fields(text)}
    try:
        with speaking("zh"):
            assert tr(text, **values) == TRANSLATIONS[text].format(**values)
        with speaking("en"):
            assert tr(text, **values) == text.format(**values)
        choose_language("en")
        with speaking("zh"):
            assert tr(text, **values) == text.format(**values)
    finally:
        choose_language(None)
