"""Tenants from the older SageConnect's env files.

The older system kept one installation's settings in three dotenv files in its
folder; several companies shared them as comma-separated lists, the same
position in every list being the same company:

- `.env.credentials.focaltec`: TENANT_ID, API_KEY, API_SECRET, DATABASES (the
  Sage company database of each), EXTERNAL_IDS (each company's RFC), URL (one
  portal URL for all, or one each);
- `.env.credentials.database`: USER (or DB_USER), PASSWORD (or DB_PASSWORD),
  SERVER (`host`, `host,port` or `host\\instance`), shared by all companies;
- `.env`: RFC and NOMBRE (used where EXTERNAL_IDS has no RFC),
  DEFAULT_ADDRESS_* (ship-to address), ADDRESS_IDENTIFIERS_SKIP (location codes).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tenants.models import Tenant
from tenants.validators import RFC_PATTERN, normalize_rfc

FOCALTEC_FILE = ".env.credentials.focaltec"
DATABASE_FILE = ".env.credentials.database"
GENERAL_FILE = ".env"
PER_TENANT = ("TENANT_ID", "API_KEY", "API_SECRET", "DATABASES", "EXTERNAL_IDS", "URL")
ADDRESS_FIELDS = {
    "DEFAULT_ADDRESS_STREET": "ship_to_street",
    "DEFAULT_ADDRESS_CITY": "ship_to_city",
    "DEFAULT_ADDRESS_STATE": "ship_to_state",
    "DEFAULT_ADDRESS_ZIP": "ship_to_zip",
}


class SeedEnvError(Exception):
    """One sentence naming the file and variable to fix."""


@dataclass(frozen=True)
class ImportedTenant:
    tenant: Tenant
    created: bool


def read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise SeedEnvError(_("%(path)s is missing: the older system's settings folder should hold it.")
                           % {"path": path})
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _sep, value = line.partition("=")
        values[name.removeprefix("export ").strip()] = _clean_value(value)
    return values


def _clean_value(value: str) -> str:
    value = value.strip()
    if value[:1] in ("'", '"') and value.count(value[0]) >= 2:
        return value[1:value.index(value[0], 1)]
    # Unquoted values may carry a trailing comment, as the older examples do.
    for marker in (" #", "\t#"):
        if marker in value:
            value = value.split(marker, 1)[0]
    return value.strip()


def _require(values: dict[str, str], names: tuple[str, ...], path: Path) -> None:
    missing = [name for name in names if not values.get(name)]
    if missing:
        raise SeedEnvError(_("%(path)s does not set %(names)s.") % {"path": path, "names": ", ".join(missing)})


def _first(values: dict[str, str], names: tuple[str, ...], path: Path) -> str:
    for name in names:
        if values.get(name):
            return values[name]
    raise SeedEnvError(_("%(path)s does not set %(names)s.") % {"path": path, "names": " or ".join(names)})


def _lists(focaltec: dict[str, str], path: Path) -> dict[str, list[str]]:
    lists = {name: [item.strip() for item in focaltec[name].split(",")] for name in PER_TENANT if focaltec.get(name)}
    count = len(lists["TENANT_ID"])
    if len(lists.get("URL", [])) == 1:
        lists["URL"] = lists["URL"] * count
    lengths = {name: len(items) for name, items in lists.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise SeedEnvError(_(
            "%(path)s: the comma-separated lists must have one value per tenant, but %(described)s."
        ) % {"path": path, "described": described})
    return lists


def _server(server: str) -> tuple[str, int | None]:
    server = server.replace("\\\\", "\\").strip()
    host, _sep, port = server.partition(",")
    if port.strip().isdigit():
        return host.strip(), int(port)
    return server, None


def _country(value: str) -> str:
    upper = value.strip().upper()
    return "MEX" if upper in ("MEXICO", "MÉXICO", "MX", "MEX") else upper[:3]


def tenant_values(directory: Path) -> list[dict]:
    """The field values of each tenant the env files describe, in list order."""
    focaltec_path, database_path, general_path = (directory / FOCALTEC_FILE, directory / DATABASE_FILE,
                                                  directory / GENERAL_FILE)
    focaltec, database, general = (read_env_file(focaltec_path), read_env_file(database_path),
                                   read_env_file(general_path))
    _require(focaltec, ("TENANT_ID", "API_KEY", "API_SECRET", "DATABASES", "URL"), focaltec_path)
    _require(database, ("SERVER",), database_path)
    _require(general, ("RFC", "NOMBRE"), general_path)
    user = _first(database, ("USER", "DB_USER"), database_path)
    password = _first(database, ("PASSWORD", "DB_PASSWORD"), database_path)
    host, port = _server(database["SERVER"])
    lists = _lists(focaltec, focaltec_path)
    shared = {
        "name": general["NOMBRE"][:120], "sage_db_engine": "mssql", "sage_db_host": host, "sage_db_port": port,
        "sage_db_user": user, "sage_db_password": password,
        "skip_location_codes": [c.strip() for c in general.get("ADDRESS_IDENTIFIERS_SKIP", "").split(",") if c.strip()],
        **{field: general[name] for name, field in ADDRESS_FIELDS.items() if general.get(name)},
    }
    if general.get("DEFAULT_ADDRESS_COUNTRY"):
        shared["ship_to_country"] = _country(general["DEFAULT_ADDRESS_COUNTRY"])
    tenants = []
    for position, tenant_id in enumerate(lists["TENANT_ID"]):
        external_id = normalize_rfc(lists.get("EXTERNAL_IDS", [""] * len(lists["TENANT_ID"]))[position])
        tenants.append({
            **shared,
            "code": slugify(tenant_id)[:20],
            "portal_tenant_id": tenant_id,
            "portal_key": lists["API_KEY"][position],
            "portal_secret": lists["API_SECRET"][position],
            "portal_url": lists["URL"][position],
            "sage_db_name": lists["DATABASES"][position],
            "webapi_company": lists["DATABASES"][position].upper(),
            "rfc": external_id if RFC_PATTERN.match(external_id) else normalize_rfc(general["RFC"]),
        })
    return tenants


def import_seed_env(directory: Path) -> list[ImportedTenant]:
    """Create or update one Tenant per position in the env files' lists; all or nothing."""
    results = []
    with transaction.atomic():
        for values in tenant_values(Path(directory)):
            results.append(_save(values))
    return results


def _save(values: dict) -> ImportedTenant:
    if not values["code"]:
        raise SeedEnvError(_("TENANT_ID %(id)r gives no usable tenant code: use letters and digits.")
                           % {"id": values["portal_tenant_id"]})
    tenant = (Tenant.objects.filter(portal_tenant_id=values["portal_tenant_id"]).first()
              or Tenant.objects.filter(code=values["code"]).first())
    created = tenant is None
    tenant = tenant or Tenant()
    if not created:
        values = {**values, "code": tenant.code}
    for name, value in values.items():
        setattr(tenant, name, value)
    try:
        tenant.full_clean()
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
        raise SeedEnvError(_("Tenant %(id)s (TENANT_ID) is not valid; nothing was imported: %(problems)s")
                           % {"id": values["portal_tenant_id"], "problems": problems}) from exc
    tenant.save()
    return ImportedTenant(tenant, created)
