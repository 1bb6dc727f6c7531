#!/usr/bin/env bash
# The checks .ci/run makes after the tests (configuration in pyproject.toml), each over
# every file:
#   import-linter  the dependency rules of DESIGN.md "Layers enforced";
#   ruff           pyflakes, pycodestyle, import order;
#   mypy           types, with django-stubs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

# What mypy checks (tests and the sandbox stand-ins are not typed yet).
MYPY_PACKAGES=(bench cfdi sageconnect sync tenants)

echo "==> import-linter"
.venv/bin/lint-imports --no-cache

echo "==> ruff"
.venv/bin/ruff check .

echo "==> mypy (${MYPY_PACKAGES[*]})"
.venv/bin/mypy "${MYPY_PACKAGES[@]}"
