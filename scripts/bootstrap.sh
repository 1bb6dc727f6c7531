#!/usr/bin/env bash
# Makes .venv with the pinned requirements; quiet when there is nothing to do.
# The system packages the tests need (scripts/system_packages.py) are installed
# with apt-get when missing and this runs as root; otherwise (not root, no
# apt-get, or SAGECONNECT_BOOTSTRAP_NO_APT=1) it says what to run, and only the
# tests that need a missing package skip, with the same sentence.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}

missing=$("$PY" scripts/system_packages.py missing)
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -z "${SAGECONNECT_BOOTSTRAP_NO_APT:-}" ]; then
    echo "==> installing the system packages the tests need with apt-get: $missing"
    # shellcheck disable=SC2086  # one word per package
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null; }; then
      echo "==> apt-get could not install them (see above)"
    fi
  fi
  # What is still missing (apt-get refused, or was not to be run) is said once, one sentence each.
  "$PY" scripts/system_packages.py explain | sed 's/^/==> /'
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing requirements"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
