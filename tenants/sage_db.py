"""Reaching a tenant's Sage company database through a Django DB alias.

Aliases are made on demand in each process (web, workers, commands), from the
tenant's settings; when those settings change the alias is re-made.
"""
from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import Error as DjangoDatabaseError
from django.db import connections

from tenants.routers import SAGE_ALIAS_PREFIX

_lock = threading.Lock()


class SageDatabaseUnavailable(Exception):
    """One sentence a person can act on: which tenant, which server, what to check."""


def alias_for(code: str) -> str:
    return f"{SAGE_ALIAS_PREFIX}{code}"


def database_settings(tenant) -> dict[str, Any]:
    engine = tenant.sage_db_engine
    if engine == "sqlite":
        # IMMEDIATE: a transaction that reads then writes waits for the lock
        # instead of failing at once when another writer holds it.
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": tenant.sage_db_name,
                "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"}}
    if engine == "postgresql":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": tenant.sage_db_name,
            "HOST": tenant.sage_db_host or "127.0.0.1",
            "PORT": str(tenant.sage_db_port or 5432),
            "USER": tenant.sage_db_user or "postgres",
            "PASSWORD": tenant.sage_db_password,
        }
    if engine == "mssql":
        options: dict[str, Any] = {
            "driver": tenant.sage_db_driver or "ODBC Driver 18 for SQL Server",
            "connection_timeout": 10,
            "connection_retries": 1,
        }
        if uses_mssql_python(tenant):
            # mssql-django 2.0's per-alias switch (mssql/base.py, _uses_mssql_python).
            options["python_driver"] = "mssql_python"
        if tenant.sage_db_extra_params:
            options["extra_params"] = tenant.sage_db_extra_params
        return {
            "ENGINE": "mssql",
            "NAME": tenant.sage_db_name,
            "HOST": tenant.sage_db_host,
            "PORT": str(tenant.sage_db_port or ""),
            "USER": tenant.sage_db_user,
            "PASSWORD": tenant.sage_db_password,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(f"Tenant {tenant.code}: unknown Sage database engine {engine!r}.")


def register_alias(alias: str, database: dict[str, Any]) -> str:
    """Register (or re-register, if its settings changed) a complete DB alias."""
    with _lock:
        full = connections.configure_settings(
            {"default": connections.databases["default"], alias: dict(database)}
        )[alias]
        current = connections.databases.get(alias)
        if current == full:
            return alias
        if current is not None:
            # Settings changed (an admin edited the tenant): drop the old
            # connection of this thread so the next query uses the new ones.
            try:
                connections[alias].close()
            except Exception:
                pass
            try:
                del connections[alias]
            except (AttributeError, KeyError):
                pass
        connections.databases[alias] = full
    return alias


def uses_mssql_python(tenant) -> bool:
    return getattr(tenant, "sage_db_python_driver", "pyodbc") == "mssql_python"


def sage_alias(tenant, *, connect: bool = True) -> str:
    """The alias of the tenant's Sage database, connected and ready to query."""
    if tenant.sage_db_engine == "sqlite" and not getattr(tenant, "sandbox", False):
        # Tenant.clean() refuses this; a row written around it must not open a file on this server either.
        raise SageDatabaseUnavailable(
            f"Tenant {tenant.code}: SQLite is only for sandbox tenants (made by `manage.py sandbox company`); "
            "set the tenant's Sage database to SQL Server."
        )
    alias = register_alias(alias_for(tenant.code), database_settings(tenant))
    if connect:
        ensure_sage_connection(tenant, alias)
    return alias


def ensure_sage_connection(tenant, alias: str) -> None:
    try:
        connections[alias].ensure_connection()
    except ImproperlyConfigured as exc:
        # The backend itself could not load (no libodbc, no mssql-python): an alias left
        # behind would break every later walk over the connections, so it goes too.
        forget_alias(alias)
        raise SageDatabaseUnavailable(explain_failure(tenant, exc)) from exc
    except DjangoDatabaseError as exc:  # pyodbc's own errors arrive as the base class
        raise SageDatabaseUnavailable(explain_failure(tenant, exc)) from exc


def forget_alias(alias: str) -> None:
    with _lock:
        connections.databases.pop(alias, None)
        try:
            del connections[alias]
        except (AttributeError, KeyError):
            pass


def explain_failure(tenant, exc: BaseException) -> str:
    text = str(exc)
    where = _where(tenant)
    if "libodbc" in text or "pyodbc" in text.lower() and "loading" in text.lower():
        if uses_mssql_python(tenant):
            # mssql-django imports pyodbc when it loads, whichever driver the alias then uses.
            return (
                f"Tenant {tenant.code}: cannot reach the Sage database {where}: the unixODBC library "
                "(libodbc.so.2) is not installed on this machine; mssql-django needs it even with the "
                "mssql-python driver. Install it (Debian/Ubuntu: apt-get install unixodbc)."
            )
        return (
            f"Tenant {tenant.code}: cannot reach the Sage database {where}: the unixODBC library "
            "(libodbc.so.2) is not installed on this machine. Install it (Debian/Ubuntu: "
            "apt-get install unixodbc) and the SQL Server ODBC driver."
        )
    if "mssql-python" in text or "mssql_python" in text:
        return (
            f"Tenant {tenant.code}: cannot reach the Sage database {where}: Microsoft's mssql-python driver "
            "(1.15 or newer) is not installed in this Python environment. Install the pinned requirements "
            "(pip install -r requirements.txt), or set the tenant's SQL Server driver to pyodbc."
        )
    if "IM002" in text or "Can't open lib" in text or "Data source name not found" in text:
        return (
            f"Tenant {tenant.code}: cannot reach the Sage database {where}: the ODBC driver "
            f"'{tenant.sage_db_driver}' is not installed on this machine. Install Microsoft's "
            "'ODBC Driver 18 for SQL Server' (msodbcsql18) or FreeTDS (apt-get install tdsodbc) "
            "and set the tenant's ODBC driver to its name."
        )
    if any(marker in text for marker in ("Login failed", "18456", "password authentication failed")):
        return (
            f"Tenant {tenant.code}: the Sage database {where} refused the login of user "
            f"'{tenant.sage_db_user}'. Check the tenant's database user and password."
        )
    if tenant.sage_db_engine == "sqlite":
        return (
            f"Tenant {tenant.code}: cannot open the sandbox Sage database file {tenant.sage_db_name}: "
            f"{text.splitlines()[0] if text else exc.__class__.__name__}. Check the path, or run "
            f"`manage.py sandbox company --tenant {tenant.code}`."
        )
    return (
        f"Tenant {tenant.code}: the Sage database server {where} did not answer. Check that the "
        "server is running, that it accepts TCP/IP connections on that port, that no firewall "
        "is in the way, and the tenant's host and port."
    )


def _where(tenant) -> str:
    if tenant.sage_db_engine == "sqlite":
        return tenant.sage_db_name
    port = f":{tenant.sage_db_port}" if tenant.sage_db_port else ""
    return f"{tenant.sage_db_host}{port} (database {tenant.sage_db_name})"
