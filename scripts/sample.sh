#!/usr/bin/env bash
# The main job on the bundled sample: build a demo appraisal store from it (a cycle in
# publication, one appeal upheld, one dismissed and escalated, one still open) and open
# the TUI on it as HR; without a terminal (CI, a pipe) it prints the cycle's status table.
# Arguments go to `pkrules demo` (--zh: the Chinese policy and sample).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
exec .venv/bin/pkrules demo --db out/demo.db "$@"
