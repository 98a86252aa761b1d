"""The Pygments lexer reads every shipped policy without error tokens and colours keywords."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygments import lex
from pygments.token import Comment, Error, Keyword, Number

from pkrules.language.highlight import PkrulesLexer, highlight_terminal

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("path", sorted((ROOT / "policies").glob("*.pk")), ids=lambda p: p.name)
def test_lexer_reads_the_policies(path: Path):
    text = path.read_text(encoding="utf-8")
    tokens = list(lex(text, PkrulesLexer()))
    assert "".join(v for _, v in tokens) == text
    assert not [v for t, v in tokens if t in Error]
    kinds = {t for t, _ in tokens}
    assert Keyword in kinds and Comment.Single in kinds and Number in kinds


def test_keywords_need_word_boundaries_as_in_the_parser():
    tokens = [(t, v) for t, v in lex("如果 得分 >= 90 则 系数 1.2\n如果金额 = 1\n", PkrulesLexer()) if v.strip()]
    assert tokens[0] == (Keyword, "如果")
    assert ("如果金额" in [v for t, v in tokens if t not in Keyword])


def test_terminal_highlighting_adds_colour():
    coloured = highlight_terminal("coef\n  IF score >= 90 THEN coef 1.2\n")
    assert "\x1b[" in coloured and "IF" in coloured
