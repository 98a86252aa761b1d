"""Names that look alike (Unicode TR39): two names with one skeleton, and a name that mixes scripts.

`bonus` and `bоnus` (with a Cyrillic о) are two names a reader cannot tell
apart; a run would show two "bonus" columns. Their TR39 skeletons are equal:
NFD, every character replaced by its prototype (confusables.txt), NFD again.
A name that mixes scripts beyond what TR39's "highly restrictive" level allows
(Latin with Han, kana or Hangul is how Chinese, Japanese and Korean names are
written; Latin with Cyrillic is not) is said too. Both are warnings of `check`,
shown by every command that reads a policy. The tables: language/unicode_tables.py.
"""

from __future__ import annotations

import bisect
import unicodedata
from functools import lru_cache

from pkrules.language import ast
from pkrules.language.diagnostics import Diagnostic, Note
from pkrules.language.source import Span
from pkrules.messages import tr

CODES = ("lookalike", "mixed-script")

# TR39 5.1: Han is also written in Japanese (with kana) and Korean (with Hangul) and as Han with Bopomofo.
_AUGMENT = {"Hani": {"Hani", "Hanb", "Jpan", "Kore"}, "Hira": {"Hira", "Jpan"}, "Kana": {"Kana", "Jpan"},
            "Hang": {"Hang", "Kore"}, "Bopo": {"Bopo", "Hanb"}}
# TR39 5.2, highly restrictive: besides one script, these combinations
_ALLOWED = ({"Latn", "Hani", "Hira", "Kana", "Jpan"}, {"Latn", "Hani", "Bopo", "Hanb"}, {"Latn", "Hani", "Hang", "Kore"})
_ANY = None  # Common and Inherited characters (digits, _) go with every script


def skeleton(name: str) -> str:
    """TR39's skeleton: two names with the same skeleton look the same."""
    from pkrules.language.unicode_tables import PROTOTYPES

    text = unicodedata.normalize("NFD", name)
    return unicodedata.normalize("NFD", "".join(PROTOTYPES.get(ch, ch) for ch in text))


@lru_cache(maxsize=4096)
def scripts_of(ch: str) -> frozenset[str] | None:
    """The scripts a character is written in (Script_Extensions, augmented); None for Common and Inherited."""
    from pkrules.language.unicode_tables import SCRIPT_EXTENSIONS, SCRIPT_RANGES

    code = ord(ch)
    found: set[str] | None = None
    at = bisect.bisect_right(SCRIPT_EXTENSIONS, (code, 0x110000)) - 1
    if at >= 0 and SCRIPT_EXTENSIONS[at][0] <= code <= SCRIPT_EXTENSIONS[at][1]:
        found = set(SCRIPT_EXTENSIONS[at][2])
    else:
        at = bisect.bisect_right(SCRIPT_RANGES, (code, 0x110000, "")) - 1
        if at >= 0 and SCRIPT_RANGES[at][0] <= code <= SCRIPT_RANGES[at][1]:
            found = {SCRIPT_RANGES[at][2]}
    if found is None:
        return _ANY
    augmented = set(found)
    for script in found:
        augmented |= _AUGMENT.get(script, set())
    return frozenset(augmented)


def mixes_scripts(name: str) -> bool:
    """Whether a name mixes scripts beyond TR39's highly restrictive level (bоnus: Latin and Cyrillic)."""
    sets = [s for s in (scripts_of(ch) for ch in name) if s is not _ANY]
    if not sets:
        return False
    common = frozenset.intersection(*sets)
    if common:
        return False
    return not any(all(s & allowed for s in sets) for allowed in _ALLOWED)


def script_name(code: str) -> str:
    from pkrules.language.unicode_tables import SCRIPT_NAMES

    return {"Hanb": "Han", "Jpan": "Japanese", "Kore": "Korean"}.get(code) or SCRIPT_NAMES.get(code, code)


def _main_script(ch: str) -> str:
    scripts = scripts_of(ch) or frozenset()
    plain = sorted(s for s in scripts if s not in ("Hanb", "Jpan", "Kore"))
    return script_name(plain[0]) if plain else "Common"


def _odd_characters(name: str, other: str | None = None) -> str:
    """The characters that make a name unusual: those not in the other name, or outside its main script."""
    if other is not None:
        odd = [ch for ch in name if ch not in other]
    else:
        counts: dict[str, int] = {}
        for ch in name:
            if scripts_of(ch) is not _ANY:
                counts[_main_script(ch)] = counts.get(_main_script(ch), 0) + 1
        main = max(counts, key=counts.get) if counts else None
        odd = [ch for ch in name if scripts_of(ch) is not _ANY and _main_script(ch) != main]
    seen: list[str] = []
    for ch in odd:
        if ch not in seen:
            seen.append(ch)
    return ", ".join(f"{ch} U+{ord(ch):04X} {unicodedata.name(ch, '?')}" for ch in seen[:3])


def names_of(policy: ast.Policy) -> list[tuple[str, Span]]:
    """Every name the policy declares (inputs, definitions, tables, one-of values, related tables), where it is."""
    found: list[tuple[str, Span]] = []
    for decl in policy.inputs:
        found.append((decl.name, decl.name_span))
        found.extend((value, decl.span) for value in decl.enum_values)
    for decl in policy.declarations:
        name, span = getattr(decl, "name", None), getattr(decl, "name_span", None)
        if isinstance(name, str) and span is not None:
            found.append((name, span))
    for table in policy.related:
        found.append((table.name, table.name_span))
        found.extend((decl.name, decl.name_span) for decl in table.inputs)
    return found


def lookalikes(policy: ast.Policy) -> list[Diagnostic]:
    """Warnings: names that look like another name of the policy, and names that mix scripts."""
    diagnostics: list[Diagnostic] = []
    first: dict[str, tuple[str, Span]] = {}
    for name, span in names_of(policy):
        if not name.isascii() and mixes_scripts(name):
            scripts = sorted({_main_script(ch) for ch in name if scripts_of(ch) is not _ANY})
            diagnostics.append(Diagnostic("warning", "mixed-script", tr(
                "{name} mixes {scripts} letters ({odd})", name=name, scripts=tr(" and ").join(scripts),
                odd=_odd_characters(name)), span,
                hint=tr("a name in one script (with Latin letters beside Chinese, Japanese or Korean) cannot be "
                        "mistaken for another; retype the odd letters")))
        seen = first.setdefault(skeleton(name), (name, span))
        if seen[0] != name:
            diagnostics.append(_lookalike(name, span, seen))
    return diagnostics


def _lookalike(name: str, span: Span, seen: tuple[str, Span]) -> Diagnostic:
    other, where = seen
    return Diagnostic("warning", "lookalike", tr(
        "{name} looks the same as {other} but is another name ({odd})", name=name, other=other,
        odd=_odd_characters(name, other) or _odd_characters(other, name)), span,
        hint=tr("a reader cannot tell them apart: give one another name, or retype it"),
        notes=(Note(tr("{other} is here", other=other), where),))
