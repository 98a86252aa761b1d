"""Exact values as stored text (api.value_to_text) and back for whole columns, and a sort key for the board."""

from __future__ import annotations

from pkrules import api


# Stored text is api.value_to_text (values/stored.py): one implementation for kept runs, the workflow and the API.
to_text = api.value_to_text


def sort_key(text: str) -> float | None:
    """A float for ordering the status board by a figure (never used for money: only for sorting)."""
    if not text:
        return None
    try:
        if "/" in text:
            n, d = text.split("/")
            return int(n) / int(d)
        return float(text)
    except ValueError:
        return None


def column_values(texts, type_) -> list:
    """Stored texts back to exact values (api.value_from_text), converting each distinct text once."""
    cache: dict[str, object] = {}
    out = []
    append = out.append
    for text in texts:
        value = cache.get(text, cache)
        if value is cache:
            value = api.value_from_text(text, type_)
            if len(cache) < 200_000:
                cache[text] = value
        append(value)
    return out
