"""The Textual app of pkrules: the appraisal cycle board, employees and their explanations, actions, appeals,
the policy with its hit counts, pictures and the diff of two policy versions.

Only the app modules (tui/app.py and the screens) import Textual; `tui.model` (what the screens need to know,
and where it comes from) and `tui.command` (`pkrules tui`) do not, so the engine and the CLI stay importable
without it.
"""

from __future__ import annotations
