"""Policy text → surface AST (ast.py), with syntax errors in the author's words.

The text is cut into top-level statements (a line at column 0 and the indented
lines under it) and each is parsed on its own, so one mistake does not hide
the next: every statement's syntax error is reported in one pass.
"""

from __future__ import annotations

import re
from fractions import Fraction

from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.indenter import DedentError

from pkrules.language import ast
from pkrules.language.diagnostics import Diagnostic, PolicyError
from pkrules.language.grammar import parser
from pkrules.language.keywords import KEYWORDS, keyword_kind, policy_language
from pkrules.values.numbers import TooManyDigits, parse_literal
from pkrules.language.source import SourceFile, Span, code_chars
from pkrules.messages import tr

# How lark's terminal names read to a policy author (in the current language).
_TOKEN_WORDS = {
    "NAME": lambda: tr("a name"),
    "NUMBER": lambda: tr("a number"),
    "DATE": lambda: tr("a date"),
    "LABEL": lambda: tr("a period such as 2024-06"),
    "PERCENT": lambda: tr("a percentage"),
    "STRING": lambda: tr('a quoted text ("…")'),
    "_NL": lambda: tr("the end of the line"),
    "_INDENT": lambda: tr("an indented line"),
    "_DEDENT": lambda: tr("the end of the indented block"),
    "$END": lambda: tr("the end of the file"),
    "EQUAL": lambda: "'='",
    "COMP": lambda: tr("a comparison (>=, <, …)"),
    "ADD_OP": lambda: tr("'+' or '-'"),
    "MUL_OP": lambda: tr("'*' or '/'"),
    "_COLON": lambda: "':'",
    "_COMMA": lambda: "','",
    "_BAR": lambda: "'|'",
    "_LPAR": lambda: "'('",
    "_RPAR": lambda: "')'",
    "_LBRACKET": lambda: "'['",
    "_RBRACKET": lambda: "']'",
    "UP": lambda: "'up to'",
}


def describe_expected(kind: str) -> str:
    if kind in _TOKEN_WORDS:
        return _TOKEN_WORDS[kind]()
    if kind in KEYWORDS:
        words = KEYWORDS[kind]
        english = [w.upper() if kind in ("IF", "THEN", "ELSE", "OTHERWISE", "AND", "OR", "NOT") else w for w in words if w.isascii()]
        chinese = [w for w in words if not w.isascii()]
        shown = english[:1] + chinese[:1]
        return "/".join(shown) if shown else kind.lower()
    return kind.lower()


def _describe_found(token: Token) -> str:
    if token.type == "$END":
        return tr("the end of the file")
    if token.type == "_NL":
        return tr("the end of the line")
    if token.type == "_INDENT":
        return tr("an indented line")
    if token.type == "_DEDENT":
        return tr("the end of an indented block")
    if token.type in KEYWORDS:
        return tr("keyword '{word}'", word=token.value)
    if token.type == "NAME":
        return tr("name '{name}'", name=token.value)
    return f"'{token.value}'"


# ---- splitting into statements ---------------------------------------------------


def _statement_chunks(text: str) -> list[tuple[int, str]]:
    """(first line number, text) for each top-level statement, comments included."""
    lines = text.split("\n")
    chunks: list[tuple[int, list[str]]] = []
    depth = 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        at_margin = line[:1] not in (" ", "\t", "\u3000", "") and not stripped.startswith("#")
        # An unclosed '(' would swallow the rest of the file; a line at the margin
        # that reads like a new definition starts a new statement regardless.
        if depth > 0 and at_margin and _NEW_DEFINITION.match(line):
            depth = 0
        starts_statement = depth == 0 and at_margin
        if starts_statement or not chunks:
            chunks.append((number, [line]))
        else:
            chunks[-1][1].append(line)
        depth = max(0, depth + _paren_balance(line))
    return [(start, "\n".join(body)) for start, body in chunks]


_NEW_DEFINITION = re.compile(r"^[^\W\d]\w*\s*[=＝]")


def _paren_balance(line: str) -> int:
    balance = 0
    for _, ch in code_chars(line):
        if ch in "(（[［【":
            balance += 1
        elif ch in ")）]］】":
            balance -= 1
    return balance


def parse_policy(source: SourceFile) -> tuple[ast.Policy | None, list[Diagnostic]]:
    """Parse a whole policy; returns the AST (None if any statement failed) and diagnostics."""
    diagnostics: list[Diagnostic] = []
    text = source.text.replace("\r\n", "\n")
    if "\t" in text:
        # Tabs and spaces mixed make indentation ambiguous; say so where it happens.
        for number, line in enumerate(text.split("\n"), start=1):
            indent = line[: len(line) - len(line.lstrip(" \t\u3000"))]
            if "\t" in indent:
                diagnostics.append(Diagnostic(
                    "error", "tab-indent", tr("indentation uses a tab"),
                    Span(number, indent.index("\t") + 1, number, indent.index("\t") + 2),
                    hint=tr("indent with spaces only (two or four per level)")))
        if diagnostics:
            return None, diagnostics
    # Most policies parse in one go; only a policy with errors is parsed statement by
    # statement, so that every statement's error is reported.
    statements, found, title, version = _parse_chunks([(1, text)])
    if found:
        statements, found, title, version = _parse_chunks(_statement_chunks(text))
    diagnostics.extend(found)
    if any(d.is_error for d in diagnostics):
        return None, diagnostics
    inputs: list[ast.InputDecl] = []
    declarations: list[ast.Declaration] = []
    examples: list[ast.Example] = []
    outputs: ast.Output | None = None
    published: ast.Published | None = None
    related: list[ast.RelatedTable] = []
    parameters: list[ast.InputDecl] = []
    appraisal = None
    for node in statements:
        if isinstance(node, list):  # an input block
            inputs.extend(node)
        elif isinstance(node, _Parameters):
            parameters.extend(node.decls)
        elif isinstance(node, _Appraisal):
            if appraisal is not None:
                diagnostics.append(Diagnostic("error", "syntax", tr("the policy has two appraisal blocks"), node.block.span,
                                              hint=tr("declare the whole process in one block")))
                return None, diagnostics
            appraisal = node.block
        elif isinstance(node, ast.Example):
            examples.append(node)
        elif isinstance(node, ast.RelatedTable):
            related.append(node)
        elif isinstance(node, ast.Output):
            if outputs is not None:
                diagnostics.append(Diagnostic("error", "two-outputs", tr("the policy has two output lines"), node.span,
                                              hint=tr("list every output on one line: output total, team_rank")))
                return None, diagnostics
            outputs = node
        elif isinstance(node, ast.Published):
            if published is not None:
                diagnostics.append(Diagnostic("error", "two-publish", tr("the policy has two publish lines"), node.span,
                                              hint=tr("list every published figure on one line: publish team_pool, elite")))
                return None, diagnostics
            published = node
        else:
            declarations.append(node)  # type: ignore[arg-type]
    language = policy_language(text)
    return ast.Policy(title, version, tuple(inputs), tuple(declarations), tuple(examples), outputs, tuple(related), language,
                      parameters=tuple(parameters), appraisal=appraisal, published=published), diagnostics


def _parse_chunks(chunks) -> tuple[list, list[Diagnostic], str | None, str | None]:
    statements: list[object] = []
    diagnostics: list[Diagnostic] = []
    title = version = None
    for start_line, chunk in chunks:
        if not chunk.strip():
            continue
        padded = "\n" * (start_line - 1) + chunk + "\n"
        try:
            tree = parser().parse(padded)
        except (UnexpectedInput, DedentError) as error:
            diagnostics.append(_syntax_diagnostic(error, padded))
            continue
        too_deep = _too_deep(tree)
        if too_deep is not None:  # before the (recursive) transformer meets it
            diagnostics.append(too_deep)
            continue
        try:
            # (lark cannot apply a transformer that takes positions while parsing, hence a second pass)
            nodes = _TO_AST.transform(tree)
        except VisitError as error:
            if isinstance(error.orig_exc, _AstError):
                diagnostics.append(error.orig_exc.diagnostic)
                continue
            raise
        for node in nodes:
            if isinstance(node, tuple) and node and node[0] == "header":
                if statements or title is not None:
                    diagnostics.append(Diagnostic(
                        "error", "late-header", tr("the policy line must come first in the file"),
                        node[3], hint=tr('start the file with: policy "name" version "…"')))
                title, version = node[1], node[2]
            else:
                statements.append(node)
    return statements, diagnostics, title, version


def _too_deep(tree) -> Diagnostic | None:
    """A diagnostic when an expression is nested deeper than MAX_NESTING (language/limits.py), else None.

    Measured on lark's tree, with a stack of its own: a statement adds a few levels, each level of an
    expression (a term of a sum, an if inside an if, a minus sign) one."""
    from lark import Tree

    from pkrules.language.limits import MAX_NESTING

    allowed = MAX_NESTING + 8  # the statement and block levels around an expression
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > allowed:
            token = _first_token(node)
            line, column = (token.line, token.column) if token is not None else (1, 1)
            return Diagnostic("error", "too-deep", tr(
                "this expression is nested more than {limit} levels deep (a sum of that many terms, ifs inside ifs, "
                "signs upon signs); pkrules reads at most {limit}", limit=MAX_NESTING),
                Span(line, column, line, column + 1),
                hint=tr("split it into named definitions (subtotals), each a part of the whole"))
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children)
    return None


def _first_token(node):
    from lark import Token, Tree

    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Token):
            return current
        if isinstance(current, Tree):
            stack.extend(reversed(current.children))
    return None


def parse_text(text: str, path: str = "<policy>") -> ast.Policy:
    """Parse or raise PolicyError (for tests and callers that want an exception)."""
    source = SourceFile(path, text)
    policy, diagnostics = parse_policy(source)
    if policy is None:
        raise PolicyError(source, diagnostics)
    return policy


# ---- syntax errors in the author's words ------------------------------------------


_CONTROL_NAMES = {"\r": "CARRIAGE RETURN", "\x0c": "FORM FEED", "\x0b": "LINE TABULATION", "\x00": "NULL"}


def _invisible(ch: str) -> bool:
    import unicodedata

    return ch != " " and (ch.isspace() or not ch.isprintable() or unicodedata.category(ch) in ("Cf", "Zl", "Zp", "Zs", "Cc"))


def _syntax_diagnostic(error: Exception, text: str) -> Diagnostic:
    if isinstance(error, DedentError):
        # lark's message names the indentation levels; find the line ourselves.
        line = _bad_dedent_line(text)
        return Diagnostic(
            "error", "indentation", tr("this line's indentation does not match any enclosing block"),
            Span(line, 1, line, 2), hint=tr("indent the lines of a block by the same amount"))
    if isinstance(error, UnexpectedCharacters):
        ch = text[error.pos_in_stream] if error.pos_in_stream < len(text) else "?"
        hint = None
        if ch in "\"“":
            hint = tr("a quoted text must end on the same line")
        elif ch == "$":
            hint = tr("write amounts as 5000, ¥5000 or 5000元")
        before = text.split("\n")[error.line - 1][: error.column - 1] if error.line else ""
        order = _word_order(Token("CHAR", ch), set(), before) if ch == "&" else None
        if order is not None:
            return Diagnostic("error", "syntax", order[0], Span(error.line, error.column, error.line, error.column + 1),
                              hint=order[1])
        if _invisible(ch):
            # A character nobody can see (a zero-width space, a form feed, a lone CR, U+2028) is named by
            # its code point: '' in a message helps no one find it.
            import unicodedata

            return Diagnostic(
                "error", "syntax", tr("unexpected character U+{code:04X} ({name}), which does not show",
                                      code=ord(ch), name=unicodedata.name(ch, _CONTROL_NAMES.get(ch, "a control character"))),
                Span(error.line, error.column, error.line, error.column + 1),
                hint=tr("delete it (it often comes with text copied from a web page, Word or a chat)"))
        return Diagnostic(
            "error", "syntax", tr("unexpected character '{ch}'", ch=ch),
            Span(error.line, error.column, error.line, error.column + 1), hint=hint)
    if isinstance(error, (UnexpectedToken, UnexpectedEOF)):
        token = error.token if isinstance(error, UnexpectedToken) else Token("$END", "")
        expected = sorted({describe_expected(k) for k in (error.expected or set()) if not k.startswith("__")})
        found = _describe_found(token)
        line = getattr(token, "line", None) or error.line
        column = getattr(token, "column", None) or error.column
        if token.type in ("_NL", "_DEDENT", "$END") or line is None or line < 1:
            line, column = _end_of_previous_content(text, token)
        width = max(len(str(token.value)), 1) if token.type not in ("_NL", "_DEDENT", "$END", "_INDENT") else 1
        line_text = text.split("\n")[line - 1][: column - 1] if 0 < line <= text.count("\n") + 1 else ""
        message, hint = _explain_unexpected(token, found, expected, error, _previous_word(text, token), line_text)
        return Diagnostic("error", "syntax", message, Span(line, column, line, column + width), hint=hint)
    return Diagnostic("error", "syntax", str(error).splitlines()[0])


_VALUE_STARTS = {"NAME", "NUMBER", "PERCENT", "STRING", "_LPAR", "MIN", "MAX", "AGG", "RANK", "SPLIT", "TIERED", "ADD_OP", "NOT", "IF"}
_OPERATORS = {"ADD_OP", "MUL_OP", "COMP", "EQUAL"}
_CONTINUATIONS = {"AND", "OR", "BETWEEN", "IN", "TOP", "BOTTOM", "NOT", "WHERE", "WITHIN", "ASCENDING"}
_ENDS = {"_NL", "$END", "_DEDENT"}
# Keywords that follow a value (LALR may have reduced past the state that expects them).
_AFTER_A_VALUE = {"WITHIN", "WHERE", "AND", "OR", "THEN", "BY", "IN", "TOP", "BOTTOM", "ASCENDING", "UPTO", "ABOVE",
                  "TO", "BETWEEN", "OTHERWISE"}


def _previous_word(text: str, token: Token) -> str:
    pos = getattr(token, "start_pos", None)
    head = text[:pos] if pos is not None else text
    match = re.search(r"(\S+)\s*$", head)
    return match.group(1) if match else ""


def _readable_expected(kinds: set[str]) -> list[str]:
    words: list[str] = []
    rest = set(kinds)
    if len(rest & _VALUE_STARTS) >= 3:
        words.append(tr("a value"))
        rest -= _VALUE_STARTS
    if len(rest & _OPERATORS) >= 2:
        words.append(tr("an operator (+ - * / >= …)"))
        rest -= _OPERATORS
        rest -= _CONTINUATIONS
    words.extend(sorted({describe_expected(k) for k in rest if not k.startswith("__")}))
    return words


_ZH_KEYWORD_WORDS = sorted((w for words in KEYWORDS.values() for w in words if not w.isascii()), key=len, reverse=True)


def _glued_keyword(token: Token) -> tuple[str, str] | None:
    """Chinese has no spaces, but keywords need them: 如果得分 is one name, not 如果 得分."""
    if token.type != "NAME" or token.value.isascii():
        return None
    for word in _ZH_KEYWORD_WORDS:
        if token.value.startswith(word) and len(token.value) > len(word):
            return word, token.value[len(word):]
    return None


def _in_rule(line: str) -> bool:
    """Whether a line has an IF whose THEN is missing (LALR lookahead offers THEN after any value)."""
    return bool(re.search(r"(^|[\s(（])(if|如果|若)(\s|$)", line, re.IGNORECASE))


def _word_order(token: Token, kinds: set, text_line: str) -> tuple[str, str] | None:
    """Words in an order the language does not take, written the way a spreadsheet or English prose would."""
    words = re.findall(r"[^\W\d]\w*", text_line)
    keywords = [w for w in words if keyword_kind(w)] + ([str(token.value)] if token.type in KEYWORDS else [])
    chinese = any(not w.isascii() for w in keywords)  # written with Chinese keywords: the fix in Chinese too
    before = [w.lower() for w in words]
    kinds_before = [keyword_kind(w) for w in before]
    if token.type == "FROM" and "WHERE" in kinds_before:
        where = next(w for w in reversed(re.findall(r"[^\W\d]\w*", text_line)) if keyword_kind(w) == "WHERE")
        return (tr("'{from_}' (the table) goes before '{where}' (the condition)", from_=token.value, where=where),
                tr("write {example}", example="人数 来自 评分表 其中 角色 = 上级" if chinese
                   else "count from ratings where rater_role = 上级"))
    if token.type == "_COMMA" and re.search(r"(^|[\s=(（,，])(if|如果|若)\s*[(（][^()（）]*$", text_line, re.IGNORECASE):
        return (tr("IF is not a function with commas, as in a spreadsheet: write IF … THEN … ELSE …"),
                tr("write {example}", example="如果 得分 >= 90 则 1 否则 0" if chinese else "if score >= 90 then 1 else 0"))
    if (token.type == "NAME" and token.value in ("和", "与", "及", "到", "-")) or str(token.value) in ("&", "和"):
        if "BETWEEN" in kinds_before:
            return (tr("between … and …: the word between the two values is '{word}'", word="且" if chinese else "and"),
                    tr("write {example}", example="得分 介于 80 且 89" if chinese else "score between 80 and 89"))
    if token.type == "IF" and "NAME" in kinds and re.search(r"[=＝]", text_line) and not any(
            k in ("IF", "THEN", "OTHERWISE", "ELSE") for k in kinds_before):
        return (tr("put the condition first: name = IF condition THEN value ELSE value"),
                tr("write {example}", example="提成 = 如果 销售额 > 50万 则 销售额 × 2% 否则 0" if chinese
                   else "commission = if sales > 50万 then sales * 2% else 0"))
    return None


def _explain_unexpected(token: Token, found: str, expected: list[str], error, previous: str,
                        text_line: str = "") -> tuple[str, str | None]:
    kinds = set(error.expected or ())
    order = _word_order(token, kinds, text_line)
    if order is not None:
        return order
    glued = _glued_keyword(token)
    if glued is not None and (keyword_kind(glued[0]) in kinds or (
            keyword_kind(glued[0]) in _AFTER_A_VALUE and previous and keyword_kind(previous) is None)):
        word, rest = glued
        return (tr("'{name}' reads as one name: it starts with the keyword '{word}'", name=token.value, word=word),
                tr("put a space after '{word}': {word} {rest}", word=word, rest=rest))
    if token.type == "_INDENT":
        return (tr("this line is indented, but nothing above it opens a block"),
                tr("remove the indentation, or put it under a heading such as input, a table name, or example"))
    if token.type in KEYWORDS and "NAME" in kinds:
        example = f"{token.value}_value" if token.value.isascii() else f"本期{token.value}"
        return (tr("'{word}' is a keyword and cannot be used as a name", word=token.value),
                tr("choose another name, such as {example}", example=example))
    if "THEN" in kinds and token.type not in _ENDS and token.type not in _OPERATORS and _in_rule(text_line):
        return (tr("expected THEN (则) before {found}", found=found),
                tr("a rule reads: IF condition THEN name value (如果 … 则 …)"))
    if "_RPAR" in kinds and token.type in _ENDS:
        return tr("a '(' is not closed"), tr("add the missing ')'")
    if kinds & _VALUE_STARTS and not kinds & (_OPERATORS - {"ADD_OP"}):
        if token.type in _ENDS:
            return tr("the line ends after '{previous}', where a value was expected", previous=previous), None
        return tr("expected a value after '{previous}', but found {found}", previous=previous, found=found), None
    if token.type in ("NAME", "NUMBER", "PERCENT", "STRING") and previous and \
            (previous[-1].isalnum() or previous[-1] in "%％)）\"") and keyword_kind(previous) is None \
            and "EQUAL" not in kinds and "_COLON" not in kinds:
        hint = None
        if token.type == "NUMBER" and "," in token.value:
            hint = tr("in 480,000 the comma groups digits; to separate two values write a space after the comma: min(5, 100)")
        return (tr("two values side by side: '{left}' and '{right}'", left=previous, right=token.value),
                hint or tr("put an operator between them (+ - * /), or a comma inside a function's brackets"))
    readable = _readable_expected(kinds)
    if not readable:
        return tr("unexpected {found}", found=found), None
    if len(readable) > 5:
        shown = tr(", ").join(readable[:5]) + tr(", …")
    elif len(readable) == 1:
        shown = readable[0]
    else:
        shown = tr("{some} or {last}", some=tr(", ").join(readable[:-1]), last=readable[-1])
    return tr("unexpected {found}; expected {expected}", found=found, expected=shown), None


def _end_of_previous_content(text: str, token: Token) -> tuple[int, int]:
    pos = token.start_pos if getattr(token, "start_pos", None) is not None else len(text)
    head = text[:pos].rstrip()
    # skip trailing comments so the caret sits after the last real token
    lines = head.split("\n")
    while lines and (not lines[-1].strip() or lines[-1].strip().startswith("#")):
        lines.pop()
    if not lines:
        return 1, 1
    last = lines[-1]
    code = last.split("#", 1)[0].rstrip() if "#" in last and '"' not in last else last.rstrip()
    return len(lines), len(code) + 1


def _bad_dedent_line(text: str) -> int:
    stack = [0]
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.strip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" \u3000"))
        if indent > stack[-1]:
            stack.append(indent)
        else:
            while indent < stack[-1]:
                stack.pop()
            if indent != stack[-1]:
                return number
    return 1


# ---- lark tree → AST ----------------------------------------------------------------


class _AstError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


def _literal(token, meta):
    """parse_literal of a number written in the policy; a number of too many digits is a diagnostic."""
    try:
        return parse_literal(token)
    except TooManyDigits as e:
        raise _AstError(Diagnostic("error", "too-many-digits", str(e), _tok_span(token) if hasattr(token, "line")
                                   else _span_of(meta),
                                   hint=tr("no figure of pay needs more; is a part of the number pasted twice?"))) from None


def _span_of(meta) -> Span:
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


_COMPARE_OPS = {"≥": ">=", "≤": "<=", "≠": "!=", "<>": "!=", "==": "=", "＝": "=", "＞": ">", "＜": "<"}
_ARITH_OPS = {"×": "*", "＊": "*", "÷": "/", "／": "/", "－": "-", "＋": "+"}
_HIT_POLICIES = {
    "first": "first", "first match": "first", "首个": "first", "首个匹配": "first", "优先": "first",
    "unique": "unique", "唯一": "unique",
    "collect sum": "sum", "sum": "sum", "collect": "sum", "累加": "sum", "求和": "sum", "合计": "sum",
}
_MATCHUP_WORDS = ("matchup", "对阵", "互为对手")
_TO_DATE_WORDS = {
    "year to date": "year", "quarter to date": "quarter", "month to date": "month", "to date": "all",
    "本年累计": "year", "本季累计": "quarter", "本月累计": "month", "累计至今": "all",
    "earlier this year": "year", "earlier this quarter": "quarter", "earlier this month": "month", "earlier": "all",
    "本年此前": "year", "本季此前": "quarter", "本月此前": "month", "此前": "all",
}
_TIER_KINDS = {"marginal": "marginal", "超额累进": "marginal", "whole": "whole", "全额累进": "whole"}
_AGG_FUNCS = {
    "sum": "sum", "合计": "sum", "求和": "sum", "总和": "sum",
    "avg": "avg", "average": "avg", "平均": "avg",
    "count": "count", "人数": "count", "计数": "count",
    "min": "min", "最小": "min", "max": "max", "最大": "max",
}


def _unquote(token: str) -> str:
    return token[1:-1]


def _is_token(item, *types: str) -> bool:
    return isinstance(item, Token) and item.type in types


def _values(children) -> list:
    """Children without keyword and punctuation tokens."""
    return [c for c in children if not (isinstance(c, Token) and (c.type in KEYWORDS or c.type in ("EQUAL",)))]


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, source: SourceFile | None = None):
        super().__init__()

    # -- structure
    def start(self, meta, children):
        return children

    def header(self, meta, children):
        strings = [c for c in children if _is_token(c, "STRING")]
        return ("header", _unquote(strings[0]), _unquote(strings[1]) if len(strings) > 1 else None, _span_of(meta))

    def input_block(self, meta, children):
        return [c for c in children if isinstance(c, ast.InputDecl)]

    def appraisal_block(self, meta, children):
        from pkrules.language.appraisal import Appraisal, AppraisalSyntax, read_line

        stages, calendar, calendar_span, days_off = [], None, None, ()
        for line in children:
            if not isinstance(line, list):
                continue
            parts = [(p, span) for p, span in line]
            colon = next((n for n, (p, _) in enumerate(parts) if p == ":"), None)
            if colon is None or colon == 0:
                first = parts[0][1]
                raise _AstError(Diagnostic("error", "syntax", tr("a line of the appraisal process reads: stage: clauses"),
                                           first, hint=tr("e.g. {example}", example="manager review: 5 working days, by manager")))
            clauses: list[list] = [[]]
            for part, span in parts[colon + 1:]:
                if part == ",":
                    clauses.append([])
                else:
                    clauses[-1].append((part, span))
            if clauses == [[]]:
                clauses = []
            try:
                found = read_line(parts[:colon], clauses)
            except AppraisalSyntax as problem:
                raise _AstError(Diagnostic("error", "syntax", problem.message, problem.span, hint=problem.hint)) from None
            if isinstance(found, tuple):
                _, calendar, calendar_span, days_off, _ = found
            else:
                stages.append(found)
        return _Appraisal(Appraisal(tuple(stages), calendar, tuple(days_off), calendar_span or _span_of(meta),
                                    span=_span_of(meta)))

    def appraisal_line(self, meta, children):
        parts: list[tuple[object, Span]] = []
        sign = None
        for child in children:
            if isinstance(child, tuple):  # colon, comma
                parts.append(child)
            elif child.type == "ADD_OP":
                sign = child
            elif child.type == "DATE":
                parts.append((self.date(meta, [child]).value, _tok_span(child)))
            else:
                text = str(child)
                if sign is not None:
                    text, sign = str(sign) + text, None
                parts.append((text, _tok_span(child)))
        return parts

    def colon(self, meta, children):
        return (":", _span_of(meta))

    def comma(self, meta, children):
        return (",", _span_of(meta))

    def parameter_block(self, meta, children):
        return _Parameters(tuple(c for c in children if isinstance(c, ast.InputDecl)), _span_of(meta))

    def input_decl(self, meta, children):
        name = children[0]
        type_name, enum_values, type_span = children[1]
        low = high = None
        compares: list[tuple[str, ast.Expr]] = []
        key = period = optional = False
        column = default = None
        for item in children[2:]:
            kind = item[0]
            if kind == "range":
                low, high = item[1], item[2]
            elif kind == "key":
                key = True
            elif kind == "period":
                period = True
            elif kind == "optional":
                optional = True
            elif kind == "default":
                optional, default = True, item[1]
            elif kind == "column":
                column = item[1]
            elif kind == "compare":
                compares.append((item[1], item[2]))
        return ast.InputDecl(
            str(name), type_name, enum_values, low, high, tuple(compares), key, column, period, optional, default,
            name_span=_tok_span(name), type_span=type_span, span=_span_of(meta))

    def type_name(self, meta, children):
        return (str(children[0]).lower(), (), _span_of(meta))

    def enum_type(self, meta, children):
        values = tuple(str(c) for c in children)
        return ("enum", values, _span_of(meta))

    def range_constraint(self, meta, children):
        low, high = _values(children)
        return ("range", low, high)

    def key_constraint(self, meta, children):
        return ("key",)

    def period_constraint(self, meta, children):
        return ("period",)

    def optional_constraint(self, meta, children):
        return ("optional",)

    def default_constraint(self, meta, children):
        return ("default", _values(children)[0])

    def column_constraint(self, meta, children):
        return ("column", _unquote(children[-1]))

    def compare_constraint(self, meta, children):
        return ("compare", children[0], children[1])

    def comp_op(self, meta, children):
        op = str(children[0])
        return _COMPARE_OPS.get(op, op)

    def output_decl(self, meta, children):
        names = tuple(ast.Name(str(c), span=_tok_span(c)) for c in children if _is_token(c, "NAME"))
        return ast.Output(names, span=_span_of(meta))

    def publish_decl(self, meta, children):
        names = tuple(ast.Name(str(c), span=_tok_span(c)) for c in children if _is_token(c, "NAME"))
        return ast.Published(names, span=_span_of(meta))

    # -- definitions
    def plain_def(self, meta, children):
        name, _, body = children
        return ast.Definition(str(name), body, name_span=_tok_span(name), span=_span_of(meta))

    def guarded_def(self, meta, children):
        name, body, guard = _values(children)
        return ast.Definition(str(name), body, guard, name_span=_tok_span(name), span=_span_of(meta))

    def weighted_def(self, meta, children):
        name = children[0]
        rows = tuple(c for c in children if isinstance(c, ast.WeightRow))
        return ast.Weighted(str(name), rows, name_span=_tok_span(name), span=_span_of(meta))

    def weighted_inline(self, meta, children):
        return ast.WeightedSum(tuple(c for c in children if isinstance(c, ast.WeightRow)), span=_span_of(meta))

    def weight_item(self, meta, children):
        name, weight = children
        return ast.WeightRow(ast.Name(str(name), span=_tok_span(name)), weight, span=_span_of(meta))

    def weight_row(self, meta, children):
        name, weight = children
        return ast.WeightRow(ast.Name(str(name), span=_tok_span(name)), weight, span=_span_of(meta))

    def tiered_def(self, meta, children):
        values = _values(children)
        name, kind_token, base = values[0], values[1], values[2]
        tiers = tuple(t for t in values[3:] if isinstance(t, ast.Tier))
        body = ast.Tiered(self._tier_kind(kind_token), base, tiers, kind_span=_tok_span(kind_token),
                          span=Span.join(_tok_span(children[2]) if isinstance(children[2], Token) else _span_of(meta), _span_of(meta)))
        return ast.Definition(str(name), body, name_span=_tok_span(name), span=_span_of(meta))

    def tiered_inline(self, meta, children):
        values = _values(children)
        kind_token, base = values[0], values[1]
        tiers = tuple(t for t in values[2:] if isinstance(t, ast.Tier))
        return ast.Tiered(self._tier_kind(kind_token), base, tiers, kind_span=_tok_span(kind_token), span=_span_of(meta))

    def _tier_kind(self, token: Token) -> str:
        # Unknown kinds are reported by the checker, so other statements still get checked.
        return _TIER_KINDS.get(str(token).lower(), str(token))

    def tier_row(self, meta, children):
        return children[0]

    def tier_upto(self, meta, children):
        upper, rate = _values(children)
        return ast.Tier(upper, rate, span=_span_of(meta))

    def tier_above(self, meta, children):
        values = _values(children)
        if len(values) == 1:
            return ast.Tier(None, values[0], span=_span_of(meta))
        return ast.Tier(None, values[1], lower=values[0], span=_span_of(meta))

    def table(self, meta, children):
        name = children[0]
        hit, hit_text, hit_span = "first", "", None
        rows = []
        for c in children[1:]:
            if isinstance(c, tuple) and c and c[0] == "hit":
                hit, hit_text, hit_span = c[1], c[2], c[3]
            elif isinstance(c, ast.Rule):
                rows.append(c)
        return ast.Table(str(name), hit, tuple(rows), hit_text=hit_text, name_span=_tok_span(name),
                         hit_span=hit_span or _tok_span(name), span=_span_of(meta))

    def hit_policy(self, meta, children):
        text = " ".join(str(c) for c in children)
        return ("hit", _HIT_POLICIES.get(text.lower(), text), text, _span_of(meta))

    def rule_row(self, meta, children):
        values = _values(children)
        cond, target, value = values
        return ast.Rule(cond, str(target), value, target_span=_tok_span(target), span=_span_of(meta))

    def otherwise_row(self, meta, children):
        target, value = _values(children)
        return ast.Rule(None, str(target), value, target_span=_tok_span(target), span=_span_of(meta))

    def lookup(self, meta, children):
        values = _values(children)
        matchup = self._lookup_kind(values)
        values = [v for v in values if not (isinstance(v, tuple) and v and v[0] == "hit")]
        name, key = values[0], values[1]
        entries = tuple(e for e in values[2:] if isinstance(e, ast.LookupEntry))
        return ast.Lookup(str(name), key, entries, matchup=matchup, name_span=_tok_span(name), span=_span_of(meta))

    @staticmethod
    def _lookup_kind(values) -> bool:
        """`(matchup)` after a lookup's name; anything else in brackets is a mistake, said here."""
        hit = next((v for v in values if isinstance(v, tuple) and v and v[0] == "hit"), None)
        if hit is None:
            return False
        if hit[2].lower() in _MATCHUP_WORDS:
            return True
        raise _AstError(Diagnostic("error", "syntax", tr("a lookup can be marked (matchup) (对阵), not ({word})",
                                                         word=hit[2]), hit[3],
                                   hint=tr("(matchup): each key meets its value, every pair written both ways")))

    def file_lookup(self, meta, children):
        values = _values(children)
        matchup = self._lookup_kind(values)
        values = [v for v in values if not (isinstance(v, tuple) and v and v[0] == "hit")]
        strings = [c for c in values if _is_token(c, "STRING")]
        name = next(c for c in values if _is_token(c, "NAME"))
        key = next(c for c in values if not isinstance(c, Token))
        column = _unquote(strings[1]) if len(strings) > 1 else None
        after_as = [c for c, before in zip(children[1:], children) if _is_token(before, "AS")]
        unit = str(after_as[0]) if after_as else None
        return ast.Lookup(str(name), key, (), _unquote(strings[0]), column, unit, matchup, name_span=_tok_span(name),
                          file_span=_tok_span(strings[0]), span=_span_of(meta))

    def lookup_entry(self, meta, children):
        key, value = children
        if isinstance(key, tuple):  # OTHERWISE
            return ast.LookupEntry(None, value, key_span=key[1], span=_span_of(meta))
        if key.type == "STRING":
            k: str | Fraction | None = _unquote(key)
        elif key.type in ("NUMBER", "PERCENT"):
            parsed = _literal(key, meta)
            k = parsed[0] if parsed else str(key)
        else:
            k = str(key)
        return ast.LookupEntry(k, value, key_span=_tok_span(key), span=_span_of(meta))

    def lookup_default(self, meta, children):
        return ("default", _span_of(meta))

    # -- examples
    def example(self, meta, children):
        title = next(c for c in children if _is_token(c, "STRING"))
        employees: list[list[ast.Field]] = []
        expectations: list[ast.Expectation] = []
        related: list[ast.RelatedRow] = []
        for line in children:
            if not isinstance(line, tuple):
                continue
            if line[0] == "related":
                _, table, fields, span = line
                if not employees:
                    employees.append([])
                related.append(ast.RelatedRow(len(employees) - 1, table, tuple(fields), span=span))
            elif line[0] == "given":
                _, new_employee, fields = line
                if new_employee or not employees:
                    employees.append([])
                employees[-1].extend(fields)
            elif line[0] == "expect":
                _, who, fields = line
                expectations.extend(ast.Expectation(who, f, span=f.span) for f in fields)
        return ast.Example(_unquote(title), tuple(tuple(e) for e in employees), tuple(expectations), tuple(related),
                           span=_span_of(meta))

    def related_line(self, meta, children):
        values = _values(children)
        return ("related", str(values[0]), values[-1], _span_of(meta))

    def related_block(self, meta, children):
        values = _values(children)
        name, link = values[0], values[1]
        return ast.RelatedTable(str(name), str(link), tuple(c for c in values if isinstance(c, ast.InputDecl)),
                                name_span=_tok_span(name), link_span=_tok_span(link), span=_span_of(meta))

    def related_aggregate(self, meta, children):
        func_token = children[0]
        func = _AGG_FUNCS.get(str(func_token).lower(), str(func_token).lower())
        values = _values(children[1:])
        source = next(c for c in values if _is_token(c, "NAME"))
        operand = next((c for c in children[1:] if not isinstance(c, (Token, _Where))), None)
        where = next((c.where for c in children if isinstance(c, _Where)), None)
        return ast.Aggregate(func, operand, where, None, False, str(source), span=_span_of(meta))

    def given_line(self, meta, children):
        new_employee = any(_is_token(c, "EMPLOYEE") for c in children)
        return ("given", new_employee, children[-1])

    def expect_line(self, meta, children):
        values = _values(children)
        who = values[0] if len(values) == 2 else None
        return ("expect", who, values[-1])

    def field_list(self, meta, children):
        return [c for c in children if isinstance(c, ast.Field)]

    def field(self, meta, children):
        name, value = _values(children)
        return ast.Field(str(name), value, name_span=_tok_span(name), span=_span_of(meta))

    # -- expressions
    def date(self, meta, children):
        import datetime as dt

        token = children[0]
        year, month, day = (int(part) for part in re.findall(r"\d+", str(token)))
        try:
            value = dt.date(year, month, day)
        except ValueError:
            raise _AstError(Diagnostic("error", "date", tr("{text} is not a date", text=token), _tok_span(token),
                                       hint=tr("write dates as year-month-day, e.g. 2024-07-15"))) from None
        return ast.Date(value, str(token), span=_span_of(meta))

    def label(self, meta, children):
        return ast.Text(str(children[0]), span=_span_of(meta))

    def number(self, meta, children):
        token = children[0]
        parsed = _literal(token, meta)
        # The NUMBER token only matches text parse_literal reads.
        assert parsed is not None, token
        value, is_money, _ = parsed
        return ast.Number(value, is_money, str(token), span=_span_of(meta))

    def percent(self, meta, children):
        token = children[0]
        value, _, _ = _literal(token, meta)  # type: ignore[misc]
        return ast.Percent(value, str(token), span=_span_of(meta))

    def string(self, meta, children):
        return ast.Text(_unquote(children[0]), span=_span_of(meta))

    def name(self, meta, children):
        return ast.Name(str(children[0]), span=_span_of(meta))

    def neg(self, meta, children):
        op, operand = children
        if str(op) in ("+", "＋"):
            return operand
        if isinstance(operand, ast.Number):
            return ast.Number(-operand.value, operand.is_money, "-" + operand.text, span=_span_of(meta))
        if isinstance(operand, ast.Percent):
            return ast.Percent(-operand.value, "-" + operand.text, span=_span_of(meta))
        return ast.Neg(operand, span=_span_of(meta))

    def binary(self, meta, children):
        left, op, right = children
        op = _ARITH_OPS.get(str(op), str(op))
        return ast.Binary(op, left, right, span=_span_of(meta))

    def compare(self, meta, children):
        operands = tuple(children[0::2])
        ops = tuple(children[1::2])
        return ast.Compare(operands, ops, span=_span_of(meta))

    def between(self, meta, children):
        value, low, high = _values(children)
        return ast.Between(value, low, high, span=_span_of(meta))

    def in_list(self, meta, children):
        negated = any(_is_token(c, "NOT") for c in children)
        values = _values(children)
        return ast.InList(values[0], tuple(values[1:]), negated, span=_span_of(meta))

    def top(self, meta, children, bottom=False):
        values = _values(children)
        scope = (values[2] if len(values) > 2 else _Within(None, False)).only_now("top" if not bottom else "bottom")
        return ast.Top(values[0], values[1], bottom, scope.within, scope.across, span=_span_of(meta))

    def bottom(self, meta, children):
        return self.top(meta, children, bottom=True)

    def scope(self, meta, children):
        across = any(_is_token(c, "ACROSS") for c in children)
        if across:
            word = next((c for c in children if _is_token(c, "NAME")), None)
            if word is not None and str(word).lower() not in ("periods", "period", "all"):
                raise _AstError(Diagnostic("error", "syntax", tr("write 'across periods', not 'across {word}'", word=word),
                                           _tok_span(word)))
        to_date = next((c for c in children if isinstance(c, _ToDate)), None)
        within = next((c for c in children if not isinstance(c, (Token, _ToDate))), None)
        return _Within(within, across, to_date)

    def to_date(self, meta, children):
        word = children[0]
        text = " ".join(str(word).lower().split())
        if word.type == "SINCE":
            return _ToDate("since", False, children[1], _span_of(meta))
        span = _TO_DATE_WORDS[text]
        return _ToDate(span, word.type == "EARLIER", None, _span_of(meta))

    def group_tuple(self, meta, children):
        return ast.Group(tuple(children), span=_span_of(meta))

    def where(self, meta, children):
        return _Where(_values(children)[0])

    def or_(self, meta, children):
        left, right = _values(children)
        return ast.Logic("or", left, right, span=_span_of(meta))

    def and_(self, meta, children):
        left, right = _values(children)
        return ast.Logic("and", left, right, span=_span_of(meta))

    def not_(self, meta, children):
        return ast.Not(_values(children)[0], span=_span_of(meta))

    def if_expr(self, meta, children):
        cond, then, else_ = _values(children)
        return ast.IfExpr(cond, then, else_, span=_span_of(meta))

    def call(self, meta, children):
        func = children[0]
        return ast.Call(str(func), tuple(children[1:]), span=_span_of(meta))

    def value_of(self, meta, children):
        name, inside = children
        if isinstance(inside, ast.Compare) and inside.ops == ("=",) and isinstance(inside.operands[0], ast.Name):
            return ast.ValueOf(str(name), inside.operands[1], inside.operands[0].name, name_span=_tok_span(name),
                               span=_span_of(meta))
        return ast.ValueOf(str(name), inside, None, name_span=_tok_span(name), span=_span_of(meta))

    def aggregate(self, meta, children):
        func_token = children[0]
        func = _AGG_FUNCS.get(str(func_token).lower(), str(func_token).lower())
        operand = where = within = None
        across = False
        to_date = None
        for c in children[1:]:
            if isinstance(c, _Within):
                within, across, to_date = c.within, c.across, c.to_date
            elif isinstance(c, _Where):
                where = c.where
            elif not isinstance(c, Token):
                operand = c
        if to_date is not None:
            return ast.Aggregate(func, operand, where, within, across, to_date=to_date.span, earlier=to_date.earlier,
                                 since=to_date.since, span=_span_of(meta))
        return ast.Aggregate(func, operand, where, within, across, span=_span_of(meta))

    def rank(self, meta, children):
        ascending = any(_is_token(c, "ASCENDING") for c in children)
        values = _values(children)
        scope = next((v for v in values if isinstance(v, _Within)), _Within(None, False)).only_now("rank")
        return ast.Rank(values[0], ascending, scope.within, scope.across, span=_span_of(meta))

    def split(self, meta, children):
        values = _values(children)
        scope = next((v for v in values if isinstance(v, _Within)), _Within(None, False)).only_now("split")
        return ast.Split(values[0], values[1], scope.within, scope.across, span=_span_of(meta))


_TO_AST = _ToAst(None)  # stateless: one instance serves every parse


class _Appraisal:
    def __init__(self, block):
        self.block = block


class _Parameters:
    def __init__(self, decls: tuple, span: Span):
        self.decls = decls
        self.span = span


class _Within:
    def __init__(self, within, across: bool = False, to_date: "_ToDate | None" = None):
        self.within = within
        self.across = across
        self.to_date = to_date

    def only_now(self, what: str) -> "_Within":
        """A scope for a term that compares people within one period (rank, top, split): no year to date."""
        if self.to_date is not None:
            raise _AstError(Diagnostic(
                "error", "syntax", tr("{what} compares people within one period; year to date (本年累计) goes with "
                                      "sum, avg, count, min and max", what=what), self.to_date.where,
                hint=tr("rank the total instead: define it first (ytd = sum sales year to date), then rank ytd")))
        return self


class _ToDate:
    def __init__(self, span: str, earlier: bool, since, where: Span):
        self.span = span
        self.earlier = earlier
        self.since = since
        self.where = where


class _Where:
    def __init__(self, where):
        self.where = where
