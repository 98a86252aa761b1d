"""Every message a user reads, in English and Chinese: one catalogue, one way to say things.

Two kinds of messages, both in this package:

- `tr("expected {what}, not a percentage", what=...)`: a sentence written in
  English at its call site (as gettext does); zh.py holds its Chinese. Placeholders
  are named, so the translation may put them in another order.
- `say(lang, "if_step", cond=...)`: the small words of explanations, diffs and
  impacts, kept by key (explain.py, diff.py, impact.py: one catalogue, no key in
  two of them), because their English and Chinese differ in shape.

Which language: the policy's (a policy written with Chinese keywords speaks
Chinese), unless the user chose one (`--lang en|zh`). A command sets it once:

    with speaking(policy_language):      # the policy's language, or the user's choice
        ...                              # every tr() inside speaks it

- `msg("appeal #{i} filed", i=7)`: the same sentence said later, for the appraisal
  workflow, whose refusals are made before anyone knows who will read them (the CLI,
  the TUI, a log): `.in_(lang)` or `str()` says it then. Same catalogue, same checks.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

LANGUAGES = ("en", "zh")

_chosen: ContextVar[str | None] = ContextVar("pkrules_chosen_language", default=None)  # --lang
_current: ContextVar[str] = ContextVar("pkrules_language", default="en")


def choose_language(lang: str | None) -> None:
    """The user's choice (--lang), which wins over every policy's own language; None: follow the policy."""
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: {', '.join(LANGUAGES)}")
    _chosen.set(lang)
    if lang is not None:
        _current.set(lang)


def current_language() -> str:
    return _current.get()


def language_for(policy_language: str | None) -> str:
    """The language to speak about a policy: the user's choice, else the policy's own."""
    return _chosen.get() or (policy_language if policy_language in LANGUAGES else "en")


@contextmanager
def speaking(policy_language: str | None) -> Iterator[str]:
    """Speak the policy's language (or the user's choice) inside the block."""
    token = _current.set(language_for(policy_language))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def set_language(policy_language: str | None) -> str:
    """Speak the policy's language (or the user's choice) from now on (a command about one policy)."""
    lang = language_for(policy_language)
    _current.set(lang)
    return lang


def tr(text: str, /, *, ctx: str | None = None, **values: object) -> str:
    """A sentence in the current language; text is its English template, placeholders by name.

    ctx tells apart one English word with two meanings: tr("name", ctx="person") is 姓名 where
    tr("name") is 项目; zh.py holds it under "person\x04name" (gettext's convention).
    """
    template = text
    if _current.get() == "zh":
        from pkrules.messages.zh import TRANSLATIONS

        template = TRANSLATIONS.get(f"{ctx}\x04{text}" if ctx else text, text)
    return template.format(**values) if values else template


@contextmanager
def _exactly(lang: str) -> Iterator[str]:
    token = _current.set(lang if lang in LANGUAGES else "en")
    try:
        yield _current.get()
    finally:
        _current.reset(token)


class Msg:
    """A tr() sentence said later: its template and values now, its words when it is shown.

    Values that are Msg themselves are said in the same language. `in_(lang)` says it
    in the language of a policy (unless the user chose one: --lang); `en`, `zh` in exactly
    that language; `str()` in the current one.
    """

    __slots__ = ("text", "values")

    def __init__(self, text: str, /, **values: object):
        self.text = text
        self.values = values

    def say(self) -> str:
        """In the current language."""
        return tr(self.text, **{k: (v.say() if isinstance(v, Msg) else v) for k, v in self.values.items()})

    def in_(self, lang: str | None) -> str:
        with _exactly(language_for(lang)):
            return self.say()

    @property
    def en(self) -> str:
        with _exactly("en"):
            return self.say()

    @property
    def zh(self) -> str:
        with _exactly("zh"):
            return self.say()

    def __str__(self) -> str:
        return self.say()

    def __repr__(self) -> str:
        return f"msg({self.text!r}{''.join(f', {k}={v!r}' for k, v in self.values.items())})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Msg) and type(other) is type(self) and (self.text, self.values) == (other.text, other.values)

    def __hash__(self) -> int:
        return hash(self.text)


class _Joined(Msg):
    """Several sentences (or texts) joined by a separator that is itself a sentence ("; " → "；")."""

    __slots__ = ("parts", "separator")

    def __init__(self, separator: Msg | str, parts: list):
        super().__init__("")
        self.separator = separator
        self.parts = list(parts)

    def say(self) -> str:
        separator = self.separator.say() if isinstance(self.separator, Msg) else self.separator
        return separator.join(p.say() if isinstance(p, Msg) else str(p) for p in self.parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Joined) and (self.separator, self.parts) == (other.separator, other.parts)

    def __hash__(self) -> int:
        return hash(len(self.parts))


class _Later(Msg):
    """A text made by a function that speaks through tr() (a bad cell's describe()), made when it is said."""

    __slots__ = ("make",)

    def __init__(self, make):
        super().__init__("")
        self.make = make

    def say(self) -> str:
        return self.make()

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def later(make) -> Msg:
    """later(lambda: cell_error.describe(path)): said when shown, in the language it is shown in."""
    return _Later(make)


def msg(text: str, /, **values: object) -> Msg:
    """A tr() sentence said later (see Msg); its Chinese is in zh.py like every other."""
    return Msg(text, **values)


def joined(separator: Msg | str, parts) -> Msg:
    """Sentences joined, each said in the language the whole is said in: joined(msg("; "), [a, b])."""
    return _Joined(separator, parts)


def keyed_words() -> dict[str, dict[str, str]]:
    """The keyed words of explanations, diffs and impacts, by language (explain.py, diff.py, impact.py)."""
    from pkrules.messages import diff, explain, impact

    return {lang: {**explain.MESSAGES[lang], **diff.MESSAGES[lang], **impact.MESSAGES[lang]} for lang in LANGUAGES}


_KEYED: dict[str, dict[str, str]] = {}


def say(lang: str, message: str, /, **values: object) -> str:
    """A keyed word or phrase of explanations, diffs and impacts in the given language."""
    return words(lang)[message].format(**values)


def words(lang: str) -> dict[str, str]:
    """The keyed words of one language (English for a language without them): what say() reads, for a caller
    that says many (an explanation of every employee)."""
    if not _KEYED:
        _KEYED.update(keyed_words())
    return _KEYED.get(lang) or _KEYED["en"]


def reason(error: OSError) -> str:
    """Why the system refused a file operation, in the current language (e.strerror is always English)."""
    import errno

    known = {
        errno.ENOENT: lambda: tr("no such file or folder"),
        errno.EACCES: lambda: tr("permission denied"),
        errno.EPERM: lambda: tr("permission denied"),
        errno.ENOSPC: lambda: tr("no space left on the disk"),
        errno.EROFS: lambda: tr("the disk is read-only"),
        errno.EISDIR: lambda: tr("is a folder"),
        errno.ENOTDIR: lambda: tr("a part of the path is not a folder"),
        errno.EEXIST: lambda: tr("already exists"),
        errno.EDQUOT: lambda: tr("the disk quota is used up"),
        errno.EFBIG: lambda: tr("the file is larger than allowed here"),
        errno.EIO: lambda: tr("the disk could not be written or read (is it full, or a file-size limit reached?)"),
    }
    if error.errno in known:
        return known[error.errno]()
    return error.strerror or str(error)
