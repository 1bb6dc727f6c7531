from django import template

from tenants.models import STEP_NAMES, Tenant

register = template.Library()


@register.filter
def step_label(step: str) -> str:
    """A step's name as people read it (translated), e.g. "cfdi_download" → "Descarga de CFDI"."""
    if step not in STEP_NAMES:
        return step
    return str(Tenant._meta.get_field(f"step_{step}").verbose_name)
