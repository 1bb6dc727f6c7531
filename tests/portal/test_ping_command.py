"""`manage.py portal ping --tenant CODE`: one line for the answer, one for the credentials."""
import pytest
from django.core.management import CommandError, call_command

from tests.portal.test_dead_server import _closed_port


def _ping(code: str, capsys) -> tuple[int, list[str]]:
    try:
        call_command("portal", "ping", "--tenant", code)
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().out.strip().splitlines()


def test_it_says_the_portal_answers_and_accepts_the_credentials(portal_tenant, stand_in, capsys):
    status, lines = _ping(portal_tenant.code, capsys)

    assert status == 0
    assert lines == [f"Portal of tenant 'acme' at {portal_tenant.portal_url}: answers.",
                     "Credentials of tenant 'acme': accepted."]


def test_it_says_the_credentials_are_refused(portal_tenant, stand_in, capsys):
    stand_in.secret = "rotated-on-the-portal"
    stand_in.save()

    status, lines = _ping(portal_tenant.code, capsys)

    assert status == 1
    assert lines[0].endswith("answers.")
    assert "refused" in lines[1] and "key and secret" in lines[1]


def test_it_says_the_portal_does_not_answer(make_tenant, capsys):
    tenant = make_tenant(code="gone", portal_url=f"http://127.0.0.1:{_closed_port()}")

    status, lines = _ping(tenant.code, capsys)

    assert status == 1 and len(lines) == 2
    assert "does not answer" in lines[0] and "connection refused" in lines[0]
    assert "not checked" in lines[1]


def test_it_names_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant with code 'nobody'"):
        call_command("portal", "ping", "--tenant", "nobody")
