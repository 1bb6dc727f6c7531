from django import template
from django.utils.translation import gettext_lazy as _

from cfdi.models import CfdiStatus
from sync.models import RecordOutcome, SyncLink
from tenants.models import STEP_NAMES, field_label

register = template.Library()


@register.filter
def step_label(step: str) -> str:
    """A step's name as people read it (translated), e.g. "cfdi_download" → "Descarga de CFDI"."""
    if step not in STEP_NAMES:
        return step
    return field_label(f"step_{step}")


# What a step did to a record (RecordOutcome.action), as people read it.
ACTION_LABELS = {
    "create": _("create"),
    "update": _("update"),
    "import": _("import"),
    "record": _("record"),
    "match": _("match"),
    "erp_status": _("ERP status"),
    "close": _("close"),
    "cancel": _("cancel"),
}


@register.filter
def kind_label(kind: str) -> str:
    """A record kind (SyncLink.Kind) as people read it, e.g. "po" → "orden de compra"."""
    return _label(SyncLink.Kind, kind)


@register.filter
def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


@register.filter
def outcome_status_label(status: str) -> str:
    return _label(RecordOutcome.Status, status)


@register.filter
def cfdi_status_label(status: str) -> str:
    return _label(CfdiStatus, status)


# SyncLink.State's labels explain each state at length; a badge needs a word.
LINK_STATE_WORDS: dict[str, object] = {
    SyncLink.State.PENDING: _("pending"),
    SyncLink.State.SENT: _("sent"),
    SyncLink.State.CONFIRMED: _("confirmed"),
    SyncLink.State.FAILED: _("failed"),
}


@register.filter
def link_state_word(state: str) -> str:
    return str(LINK_STATE_WORDS.get(state, state))


# TipoDeComprobante (Anexo 20, c_TipoDeComprobante) as people call them.
CFDI_KINDS = {
    "I": _("invoice (I)"),
    "E": _("credit note (E)"),
    "P": _("payment complement (P)"),
    "T": _("transfer (T)"),
    "N": _("payroll (N)"),
}


@register.filter
def cfdi_kind_label(kind: str) -> str:
    return str(CFDI_KINDS.get(kind, kind))
