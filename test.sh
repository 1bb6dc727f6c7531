#!/usr/bin/env bash
# Runs the test suite (sets up .venv first if needed). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
