from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save

from sageconnect.processes import follow_parent_from_environment


def _create_access_groups(sender, **kwargs) -> None:
    # Imported when the signal fires: both read models, which apps.py may not import while apps load.
    from sageconnect.access import ensure_access_groups
    from sync.housekeeping import ensure_prune_schedule

    ensure_access_groups()
    ensure_prune_schedule()


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Sync"

    def ready(self) -> None:
        # The "SageConnect admins" and "SageConnect staff" groups exist as soon
        # as the database does, so an admin can put people in them at once;
        # so does the daily prune of old history (sync.housekeeping).
        post_migrate.connect(_create_access_groups, sender=self)
        # A tenant's django-q schedule follows its settings; the models are loaded by now.
        from sync import scheduling
        from tenants.models import Tenant

        post_save.connect(scheduling.tenant_saved, sender=Tenant, dispatch_uid="sync_schedule_on_tenant_save")
        post_delete.connect(scheduling.tenant_deleted, sender=Tenant, dispatch_uid="sync_schedule_on_tenant_delete")
        # `manage.py cfdi import` runs the engine: sync adds it to cfdi's command. Imported here, once
        # the models are loaded (it reads them), as apps.py must.
        from sync import cfdi_command

        cfdi_command.register()
        # Processes `serve` started fork workers after Django is set up: each fork dies with its parent too.
        follow_parent_from_environment()
