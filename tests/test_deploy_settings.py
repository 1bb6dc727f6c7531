"""Production settings: `check --deploy` silent with SAGECONNECT_HTTPS=true, and what the switch turns on."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _production_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The real settings with nothing but what a production site sets (none of the tests' own switches)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGECONNECT_", "DJANGO_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="sageconnect.settings", SAGECONNECT_VAR_DIR=str(tmp_path),
               DJANGO_DEBUG="false", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), **values)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_it_passes_check_deploy_without_a_warning_with_the_https_switch(tmp_path):
    result = _manage(_production_env(tmp_path, SAGECONNECT_HTTPS="true"), "check", "--deploy")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_it_warns_without_the_switch(tmp_path):
    result = _manage(_production_env(tmp_path), "check", "--deploy")
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stdout + result.stderr, check


SETTINGS_PROGRAM = """
import json
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
client = Client()
plain = client.get("/login/")
secure = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
health = client.get("/healthz")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "secure": [secure.status_code, secure.get("Strict-Transport-Security", "")],
    "health": health.status_code,
    "cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
    "session_age": settings.SESSION_COOKIE_AGE,
}))
"""


def _settings_facts(tmp_path: Path, **values: str) -> dict:
    result = subprocess.run([sys.executable, "-c", SETTINGS_PROGRAM], cwd=REPO, env=_production_env(tmp_path, **values),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_redirects_to_https_and_sends_hsts_behind_a_proxy(tmp_path):
    facts = _settings_facts(tmp_path, SAGECONNECT_HTTPS="true", SAGECONNECT_SESSION_HOURS="2")
    assert facts["plain"] == [301, "https://testserver/login/"]
    assert facts["secure"][0] == 200 and "max-age=31536000" in facts["secure"][1]
    assert facts["health"] != 301  # monitoring inside the network is not redirected
    assert facts["cookies"] == [True, True]
    assert facts["session_age"] == 2 * 3600


def test_it_serves_plain_http_without_the_switch(tmp_path):
    facts = _settings_facts(tmp_path)
    assert facts["plain"][0] == 200
    assert facts["cookies"] == [False, False]
    assert facts["session_age"] == 12 * 3600
