"""The one base of every error pkrules reports to a user: catch PkrulesError to catch them all.

Each layer defines its own errors next to the code that raises them, as
subclasses of PkrulesError; the few that several layers raise live here.
A PkrulesError's text is already in the user's words (file, row, what to do).
"""

from __future__ import annotations


class PkrulesError(Exception):
    """A problem the user can act on: a bad policy, a bad data file, a refused action."""


class DataError(PkrulesError):
    """A data file that cannot be read at all (missing, not CSV, missing columns)."""
