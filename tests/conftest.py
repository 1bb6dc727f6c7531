"""Shared fixtures: tenants wired to a real sandbox Sage database; no process left behind.

The sandbox Sage database is SQLite (a file in tmp) unless
SAGECONNECT_TEST_SAGE_ENGINE=postgresql, when it is a database on the local
PostgreSQL server (127.0.0.1:5432, user postgres) — CI runs the suite both ways.

Every process a test started through tests.sync.processes is stopped, with its
children, when the test ends, however it ended. And the suite is its own
processes' "subreaper" (Linux): a process whose parent died is re-parented to
pytest instead of init, so at the end of the session everything the suite
started and that still runs is found — and the run fails, naming it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import psutil
import pytest
from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.testcases import _DatabaseFailure
from django.utils import translation

from tenants.routers import SAGE_ALIAS_PREFIX
from tests.support import postgres_available, sandbox_sage_settings
from tests.sync.processes import stop_started

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


GUARDED_METHODS = ("connect", "temporary_connection", "cursor", "chunked_cursor")


@pytest.fixture
def sage_db_allowed(db, django_db_blocker, monkeypatch):
    guarded = BaseDatabaseWrapper.ensure_connection
    # Django's own method, as pytest-django saved it before blocking it.
    real_ensure_connection = django_db_blocker._real_ensure_connection

    def ensure_connection(self, *args, **kwargs):
        if self.alias.startswith(SAGE_ALIAS_PREFIX):
            return real_ensure_connection(self, *args, **kwargs)
        return guarded(self, *args, **kwargs)

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", ensure_connection)
    # Aliases left by earlier tests had their methods wrapped when this test began (once per test that began
    # while the alias existed). Unwrapped for good, not with monkeypatch: its undo runs before the test's
    # database teardown, whose flush of this alias would then be refused. A later test that does not allow
    # the alias gets its own wrapper from Django when it begins. (A PostgreSQL Sage database keeps one
    # connection object per test process, so the wrappers met the flush there.)
    for alias in list(connections):
        if not alias.startswith(SAGE_ALIAS_PREFIX):
            continue
        connection = connections[alias]
        for name in GUARDED_METHODS:
            method = getattr(connection, name)
            while isinstance(method, _DatabaseFailure):
                method = method.wrapped
            setattr(connection, name, method)
    yield


@pytest.fixture
def make_tenant(db):
    from tenants.models import Tenant

    def make(**overrides) -> Tenant:
        values = dict(
            code="acme",
            name="ACME Industrial SA de CV",
            # The tests' tenants talk to the stand-ins, which serve sandbox tenants only.
            sandbox=True,
            rfc="AIN8001011A1",
            sage_db_engine="sqlite",
            sage_db_name=":memory:",
            webapi_url="http://127.0.0.1:9/",
            webapi_company="ACME",
            webapi_user="ADMIN",
            webapi_password="admin-secret",
            portal_url="http://127.0.0.1:9/",
            portal_tenant_id="acme",
            portal_key="portal-key-123",
            portal_secret="portal-secret-456",
        )
        values.update(overrides)
        tenant = Tenant(**values)
        tenant.full_clean()
        tenant.save()
        return tenant

    return make


@pytest.fixture
def sage_tenant(sage_db_allowed, make_tenant, tmp_path, request):
    """A tenant whose Sage database is an empty sandbox company (tables only)."""
    from sandbox.company import create_sage_tables
    from tenants.sage_db import sage_alias

    settings_ = sandbox_sage_settings(tmp_path, request.node.name)
    tenant = make_tenant(code="sagetest", **settings_)
    alias = sage_alias(tenant)
    create_sage_tables(alias, drop=True)
    yield tenant
    connections[alias].close()


def pytest_report_header(config):
    engine = os.environ.get("SAGECONNECT_TEST_SAGE_ENGINE", "sqlite")
    return [f"sandbox Sage database: {engine}; PostgreSQL reachable: {postgres_available()}"]


def pytest_configure(config):
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@pytest.fixture(autouse=True)
def _stop_started_processes():
    yield
    stop_started()


@pytest.fixture(autouse=True)
def _site_language():
    # LocaleMiddleware activates a request's language in the thread that served
    # it and never deactivates it: after a Spanish page, the next test's run log
    # would be written in Spanish. Each test starts in the settings' language.
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


def still_running() -> list[psutil.Process]:
    """What this pytest process started (directly or not) that has not ended."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    stop_started()
    leftovers = still_running()
    if not leftovers:
        return
    described = []
    for process in leftovers:
        try:
            described.append(f"pid {process.pid}: {' '.join(process.cmdline())[:200]}")
            process.kill()
        except psutil.NoSuchProcess:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = ("processes the test suite started were still running at its end (now killed):\n  "
               + "\n  ".join(described))
    if reporter:
        reporter.ensure_newline()
        reporter.write_line(message, red=True)
    else:
        print(message, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _fresh_outside_call_windows():
    # A tenant's adaptive window lives as long as the process: one test's injected 429s must not
    # leave the next test's tenant of the same code calling one at a time.
    from sageconnect.outside_calls import forget_limits

    forget_limits()
    yield
    forget_limits()
