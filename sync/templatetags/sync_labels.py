from django import template
from django.utils.translation import gettext_lazy as _

from cfdi.models import CfdiStatus
from sync.models import Outbound, OutboundAttempt
from tenants.models import STEP_NAMES, field_label

register = template.Library()


@register.filter
def step_label(step: str) -> str:
    """A step's name as people read it (translated), e.g. "cfdi_download" → "Descarga de CFDI"."""
    if step not in STEP_NAMES:
        return step
    return field_label(f"step_{step}")


# What a step did to a record (Outbound.action), as people read it.
ACTION_LABELS = {
    "create": _("create"),
    "update": _("update"),
    "import": _("import"),
    "record": _("record"),
    "match": _("match"),
    "link": _("link"),
    "upsert": _("create or update"),
    "erp_status": _("ERP status"),
    "close": _("close"),
    "cancel": _("cancel"),
}


@register.filter
def kind_label(kind: str) -> str:
    """A record kind (Outbound.Kind) as people read it, e.g. "po" → "orden de compra"."""
    return _label(Outbound.Kind, kind)


@register.filter
def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


@register.filter
def outcome_label(outcome: str) -> str:
    """What happened to a record in one attempt (OutboundAttempt.Outcome)."""
    return _label(OutboundAttempt.Outcome, outcome)


@register.filter
def cfdi_status_label(status: str) -> str:
    return _label(CfdiStatus, status)


# Outbound.State's labels explain each state at length; a badge needs a word.
LINK_STATE_WORDS: dict[str, object] = {
    Outbound.State.PENDING: _("pending"),
    Outbound.State.SENT: _("sent"),
    Outbound.State.CONFIRMED: _("confirmed"),
    Outbound.State.FAILED: _("failed"),
    Outbound.State.WAITING: _("waiting"),
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


# The names of the facts the reconcile report shows per side (sync/reconcile.py); the JSON keeps the keys.
FACT_LABELS = {
    "provider": _("portal provider"),
    "rfc": _("RFC"),
    "external_id": _("external id"),
    "name": _("name"),
    "vendor": _("Sage vendor"),
    "po": _("PO"),
    "condition": _("condition"),
    "status": _("status"),
    "total": _("total"),
    "lines": _("lines"),
    "payment": _("payment"),
    "amount": _("amount"),
    "state": _("state"),
}


@register.filter
def fact_label(name: str) -> str:
    return str(FACT_LABELS.get(name, name))


# sync.po_state.PoCondition's values, as the reconcile page shows a Sage PO's condition.
PO_CONDITIONS = {
    "open": _("open"),
    "partly_cancelled": _("partly cancelled"),
    "cancelled": _("cancelled"),
    "complete_awaiting_invoices": _("complete, awaiting invoices"),
    "closed": _("closed"),
}


@register.filter
def fact_value(value: str, name: str) -> str:
    """A fact's value in words where it is one of our codes: an outbound state, a PO's condition."""
    if name == "state":
        return link_state_word(value)
    if name == "condition":
        return str(PO_CONDITIONS.get(value, value))
    return value
