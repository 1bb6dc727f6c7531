"""Random requests drawn from focaltec/openapi-subset.json, for the property-based run.

A small generator over the JSON Schema the subset uses (object, array, string
with enum/pattern/format/length, integer, number, boolean, $ref). `known` values
steer some draws onto records that exist, so success paths are exercised too.
"""
from __future__ import annotations

import datetime as dt
import random
import string
from typing import Any
from urllib.parse import quote

from sandbox.portal import contract

_TEXT = string.ascii_letters + string.digits + " -_.&ñÑáé/#"
# The only patterns in the subset's request schemas; a new one must be taught here.
_PATTERNS = {
    "[A-Z&Ñ]{3,4}[0-9]{2}(0[1-9]|1[012])(0[1-9]|[12][0-9]|3[01])[A-Z0-9]{2}[0-9A]":
        lambda rng: "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ&Ñ") for _ in range(rng.choice((3, 4))))
        + f"{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        + "".join(rng.choice("ABCXYZ0123") for _ in range(2)) + rng.choice("0123456789A"),
}


class ExampleGenerator:
    def __init__(self, rng: random.Random, known: dict[str, list[str]]) -> None:
        self.rng = rng
        self.known = known
        self.schemas = contract.spec()["components"]["schemas"]

    def value(self, schema: dict, name: str = "", depth: int = 0) -> Any:
        if "$ref" in schema:
            return self.value(self.schemas[schema["$ref"].rsplit("/", 1)[1]], name, depth)
        if name in self.known and schema.get("type", "string") == "string" and self.rng.random() < 0.8:
            return self.rng.choice(self.known[name])
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        kind = schema.get("type") or ("object" if "properties" in schema else "string")
        return getattr(self, f"_{kind}")(schema, name, depth)

    def _object(self, schema: dict, name: str, depth: int) -> dict:
        required = set(schema.get("required", []))
        body = {}
        for prop, prop_schema in schema.get("properties", {}).items():
            if prop_schema.get("readOnly"):
                continue
            if prop in required or (depth < 3 and self.rng.random() < 0.35):
                body[prop] = self.value(prop_schema, prop, depth + 1)
        return body

    def _array(self, schema: dict, name: str, depth: int) -> list:
        count = self.rng.randint(1 if depth == 1 else 0, 3 if depth < 3 else 1)
        items = [self.value(schema.get("items", {}), name, depth + 1) for _ in range(count)]
        if schema.get("uniqueItems"):
            unique = []
            for item in items:
                if item not in unique:
                    unique.append(item)
            items = unique
        return items

    def _string(self, schema: dict, name: str, depth: int) -> str:
        if schema.get("pattern"):
            return _PATTERNS[schema["pattern"]](self.rng)
        if schema.get("format") == "date-time":
            moment = dt.datetime(2020, 1, 1,
                                 tzinfo=dt.timezone.utc) + dt.timedelta(seconds=self.rng.randint(0, 2 * 10**8))
            return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if schema.get("format") == "date":
            return (dt.date(2020, 1, 1) + dt.timedelta(days=self.rng.randint(0, 2500))).isoformat()
        low = schema.get("minLength", 0)
        high = min(schema.get("maxLength", 20), 20)
        return "".join(self.rng.choice(_TEXT) for _ in range(self.rng.randint(max(low, 1 if low else 0),
                                                                              max(high, low))))

    def _integer(self, schema: dict, name: str, depth: int) -> int:
        return self.rng.randint(0, 500)

    def _number(self, schema: dict, name: str, depth: int) -> float:
        return round(self.rng.uniform(0, 100000), 2)

    def _boolean(self, schema: dict, name: str, depth: int) -> bool:
        return self.rng.random() < 0.5

    def request(self, operation: contract.Operation, tenant_id: str) -> tuple[str, dict, Any]:
        """(path, query, body) for one random call of `operation`."""
        path, query = operation.template, {}
        for parameter in operation.spec.get("parameters", []):
            schema, where, pname = parameter.get("schema", {}), parameter["in"], parameter["name"]
            if where == "path":
                value = tenant_id if pname == "tenantId" else self.value(schema, pname).replace("/", "") or "x"
                path = path.replace("{" + pname + "}", quote(value, safe=""))
            elif where == "query" and (parameter.get("required") or self.rng.random() < 0.3):
                value = self.value(schema, pname)
                if pname == "pageSize":
                    value = self.rng.randint(0, 200)
                query[pname] = [_query_text(v) for v in (value if isinstance(value, list) else [value])]
        schema = contract.request_body_schema(operation)
        body = self.value(schema) if schema is not None else None
        return path, query, body


def _query_text(value: Any) -> str:
    """How a query value travels: booleans as true/false, as Spring reads them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
