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


def tr(text: str, /, **values: object) -> str:
    """A sentence in the current language; text is its English template, placeholders by name."""
    template = text
    if _current.get() == "zh":
        from pkrules.messages.zh import TRANSLATIONS

        template = TRANSLATIONS.get(text, text)
    return template.format(**values) if values else template


def keyed_words() -> dict[str, dict[str, str]]:
    """The keyed words of explanations, diffs and impacts, by language (explain.py, diff.py, impact.py)."""
    from pkrules.messages import diff, explain, impact

    return {lang: {**explain.MESSAGES[lang], **diff.MESSAGES[lang], **impact.MESSAGES[lang]} for lang in LANGUAGES}


_KEYED: dict[str, dict[str, str]] = {}


def say(lang: str, message: str, /, **values: object) -> str:
    """A keyed word or phrase of explanations, diffs and impacts in the given language."""
    if not _KEYED:
        _KEYED.update(keyed_words())
    catalog = _KEYED.get(lang, _KEYED["en"])
    return catalog[message].format(**values)


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
    }
    if error.errno in known:
        return known[error.errno]()
    return error.strerror or str(error)
