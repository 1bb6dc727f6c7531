SAGE_ALIAS_PREFIX = "sage_"


class SageDatabaseRouter:
    """Sage company databases belong to Sage: never migrate into them."""

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints):
        if db.startswith(SAGE_ALIAS_PREFIX):
            return False
        return None
