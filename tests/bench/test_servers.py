"""The benchmark's stand-ins: served as a real outside server would be, without the tests' instruments."""
from __future__ import annotations

import environ

from bench.servers import KEEP_CONNECTIONS_SECONDS, server_env

SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/bench/tenants-w2/sageconnect.sqlite3"}


def test_they_keep_no_records_and_keep_their_connection_to_the_installations_file():
    env = server_env(SQLITE, environ={})

    assert env["SAGECONNECT_SANDBOX_RECORD_REQUESTS"] == "false"
    read_back = environ.Env.db_url_config(env["DATABASE_URL"])
    assert (read_back["ENGINE"], read_back["NAME"]) == (SQLITE["ENGINE"], SQLITE["NAME"])
    assert read_back["CONN_MAX_AGE"] == KEEP_CONNECTIONS_SECONDS > 0


def test_they_leave_a_database_url_the_operator_set_alone():
    named = server_env(SQLITE, environ={"DATABASE_URL": "postgres://bench@127.0.0.1/bench"})
    postgres = server_env({"ENGINE": "django.db.backends.postgresql", "NAME": "bench"}, environ={})

    assert "DATABASE_URL" not in named and "DATABASE_URL" not in postgres
    assert named["SAGECONNECT_SANDBOX_RECORD_REQUESTS"] == postgres["SAGECONNECT_SANDBOX_RECORD_REQUESTS"] == "false"
