"""Test-wide set-up: pkrules' cache folder (the parser's tables, the policies kept between commands) is the test
run's own, so that no test reads what an earlier run, or the user, kept; the commands run here still use it."""

from __future__ import annotations

import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="pkrules-tests-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE  # (set on import, so that the commands tests start as processes see it too)
os.environ.pop("PKRULES_NO_CACHE", None)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE, ignore_errors=True)
