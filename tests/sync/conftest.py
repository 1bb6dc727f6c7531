"""Sync tests reach the `sage_tenant` fixture's Sage database.

Django's test cases only allow connections to aliases they know when a test
starts, and a tenant's Sage alias is made on demand: register a placeholder
once the test databases exist; tests name it in `databases` (SAGE_DB).
"""
from __future__ import annotations

import pytest

from tenants.sage_db import alias_for, register_alias

SAGE_ALIAS = alias_for("sagetest")
# transaction=True: the fixture re-makes the alias mid-test, so a per-test
# atomic block on it could not be rolled back.
SAGE_DB = pytest.mark.django_db(transaction=True, databases=["default", SAGE_ALIAS])


@pytest.fixture(scope="session", autouse=True)
def sage_test_alias(django_db_setup, tmp_path_factory):
    placeholder = tmp_path_factory.mktemp("sage") / "placeholder.sqlite3"
    register_alias(SAGE_ALIAS, {"ENGINE": "django.db.backends.sqlite3", "NAME": str(placeholder)})
