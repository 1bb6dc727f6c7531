"""The sandbox Sage company database: its tables, and the data to fill them.

The tables are the unmanaged Sage models of sync.sage, created with the schema
editor on the tenant's sandbox alias (SQLite file or PostgreSQL database).
"""
from __future__ import annotations

from django.db import connections

from sync.sage.models import SAGE_MODELS


def create_sage_tables(alias: str, *, drop: bool = False) -> None:
    connection = connections[alias]
    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in SAGE_MODELS:
            table = model._meta.db_table
            if table in existing or table.lower() in existing:
                if not drop:
                    continue
                editor.delete_model(model)
            editor.create_model(model)
