"""The Textual app of pkrules: the appraisal cycle board, employees and their explanations, actions, appeals,
the policy with its hit counts, pictures and the diff of two policy versions.

Only the app modules (tui/app.py and the screens) import Textual; `tui.model` (what the screens need to know,
and where it comes from) and `tui.command` (`pkrules tui`) do not, so the engine and the CLI stay importable
without it.
"""

from __future__ import annotations


def run_app(db: str, person: str = "H01") -> int:
    """Open the app on a workflow store, acting as `person` (what `pkrules demo` calls after building its store);
    where there is no terminal, print the cycle's status table instead. Imports Textual only here."""
    from .command import launch
    from .model import open_store

    return launch(lambda progress: open_store(db, person, progress=progress))
