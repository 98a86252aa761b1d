#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite: the layer contract, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
