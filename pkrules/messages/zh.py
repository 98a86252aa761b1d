"""The Chinese of every English sentence said through tr() (messages/__init__.py).

Keys are the English templates exactly as written at their call sites; values are
their Chinese, with the same named placeholders. tests/test_messages.py checks
that every tr() in the code has its translation here.
"""

TRANSLATIONS: dict[str, str] = {
}
