#!/usr/bin/env bash
# Sets up everything on the embedded default (SQLite, django-q2 ORM broker,
# the sandbox tenant "demo"), runs one full sync cycle of it, then serves the
# site on port 3030 with the scheduler running. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
PORT=${PORT:-3030}
export SAGECONNECT_SANDBOX_URL=${SAGECONNECT_SANDBOX_URL:-http://127.0.0.1:$PORT}
# The demo runs against the stand-ins, which are off unless switched on.
export SAGECONNECT_SANDBOX=true
M=".venv/bin/python manage.py"

$M migrate --noinput -v 0
$M ensure_admin
$M sandbox company --tenant demo --seed 1

# The stand-ins the cycle talks to are served by this same site: start it
# (web + scheduler) first, run the cycle against it, then stay in front.
$M serve --mode all --port "$PORT" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' INT TERM
for _ in $(seq 1 60); do
  # Any HTTP answer means the server is up (healthz is 503 until a cycle ran).
  .venv/bin/python -c "
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass" "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
  kill -0 $server 2>/dev/null || { echo "the web server did not start"; exit 1; }
  sleep 0.5
done
echo "==> one sync cycle of the demo tenant"
$M sync --tenant demo || echo "==> the cycle finished with failed steps: see http://127.0.0.1:$PORT/"
echo "==> SageConnect is at http://127.0.0.1:$PORT/ (admin: /admin/). Ctrl-C stops it."
wait $server
