#!/usr/bin/env bash
# Create .venv and install pkrules with its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the project's requirements changed.
stamp=.venv/.pkrules-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test,sql]"
  touch "$stamp"
fi
# Spark (the sql extra's pyspark) runs on a Java runtime: install one from the OS packages when there is
# none and we may (CI runs as root on Debian); otherwise the Spark tests skip and say why.
if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ] && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = "0" ]; then
  echo "setup: installing a Java runtime for Spark (openjdk-17-jre-headless)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
    || echo "setup: could not install Java; the Spark tests will be skipped" >&2
fi
