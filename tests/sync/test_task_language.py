"""A run queued from a page writes its texts in the site's language, not in the language of the browser that
queued it (django-q2's sync mode runs the task inside that request): sync/tasks.py."""
import pytest
from django.utils import translation

from sync import tasks
from sync.models import SyncRun

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("site, browser, expected", [("es", "en", "no está activa"), ("en", "es", "is not active")])
def test_a_task_writes_in_the_sites_language(settings, make_tenant, site, browser, expected):
    settings.LANGUAGE_CODE = site
    tenant = make_tenant(active=False)
    with translation.override(browser):
        tasks.run_manual_cycle(tenant.pk)
    assert expected in SyncRun.objects.get(tenant=tenant).note
