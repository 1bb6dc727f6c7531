"""Cut Focaltec's OpenAPI description down to the operations SageConnect uses.

Reads ../shared/focaltec/openapi.json (or the path given) and writes
focaltec/openapi-subset.json: those operations with their parameters and
request/response schemas, every schema they reference, and no prose.
The project's contract tests read only the subset, so they also run where
../shared is absent.

    python focaltec/extract.py [path/to/openapi.json]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "focaltec" / "openapi.json"
TARGET = HERE / "openapi-subset.json"

EXTERN = "/api/1.0/extern/tenants/{tenantId}"
BATCH = "/api/1.0/batch/tenants/{tenantId}"

# (method, path): what the sync steps call. Keep in step with sync/portal/client.py.
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("get", f"{EXTERN}/providers"),
    ("get", f"{EXTERN}/providers/{{providerId}}"),
    ("put", f"{EXTERN}/providers/{{providerId}}"),
    ("put", f"{EXTERN}/providers/{{providerId}}/external-id"),
    ("get", f"{EXTERN}/purchase-orders"),
    ("post", f"{EXTERN}/purchase-orders"),
    ("get", f"{EXTERN}/purchase-orders/{{purchaseOrderId}}"),
    ("put", f"{EXTERN}/purchase-orders/{{purchaseOrderId}}"),
    ("put", f"{EXTERN}/purchase-orders/{{purchaseOrderId}}/status"),
    ("put", f"{BATCH}/purchase-orders"),
    ("get", f"{BATCH}/purchase-orders/batches/{{batchId}}/status"),
    ("get", f"{EXTERN}/cfdis"),
    ("get", f"{EXTERN}/cfdis/{{cfdiId}}"),
    ("get", f"{EXTERN}/cfdis/{{cfdiId}}/files"),
    ("put", f"{BATCH}/cfdis"),
    ("post", f"{EXTERN}/payments"),
    ("get", f"{EXTERN}/payments/{{paymentId}}"),
    ("post", f"{BATCH}/payments"),
)

# Prose and tooling hints: not part of the contract we check against.
_DROPPED_KEYS = {"description", "summary", "example", "examples", "externalDocs", "tags"}
SCHEMA_PREFIX = "#/components/schemas/"


def strip_prose(node, *, in_properties: bool = False):
    """Drop prose keys, but never a property *named* like one (e.g. a `description` field)."""
    if isinstance(node, dict):
        stripped = {}
        for key, value in node.items():
            if not in_properties and key in _DROPPED_KEYS:
                continue
            stripped[key] = strip_prose(value, in_properties=(key == "properties" and not in_properties))
        return stripped
    if isinstance(node, list):
        return [strip_prose(value) for value in node]
    return node


def referenced_schemas(node) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
            found.add(ref[len(SCHEMA_PREFIX):])
        for value in node.values():
            found |= referenced_schemas(value)
    elif isinstance(node, list):
        for value in node:
            found |= referenced_schemas(value)
    return found


def schema_closure(roots: set[str], schemas: dict) -> dict:
    pending, seen = sorted(roots), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        if name not in schemas:
            raise SystemExit(f"openapi.json references schema {name!r}, which it does not define")
        seen.add(name)
        pending.extend(referenced_schemas(schemas[name]) - seen)
    return {name: strip_prose(schemas[name]) for name in sorted(seen)}


def extract(spec: dict) -> dict:
    paths: dict[str, dict] = {}
    for method, path in OPERATIONS:
        try:
            operation = spec["paths"][path][method]
        except KeyError:
            raise SystemExit(f"openapi.json has no operation {method.upper()} {path}") from None
        paths.setdefault(path, {})[method] = strip_prose(operation)
    schemas = schema_closure(referenced_schemas(paths), spec["components"]["schemas"])
    return {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "servers": spec.get("servers", []),
        "paths": paths,
        "components": {"schemas": schemas},
    }


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    if not source.is_file():
        print(f"Focaltec's openapi.json not found at {source}; pass its path as the first argument.", file=sys.stderr)
        return 2
    subset = extract(json.loads(source.read_text(encoding="utf-8")))
    TARGET.write_text(json.dumps(subset, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{TARGET.name}: {len(OPERATIONS)} operations, {len(subset['components']['schemas'])} schemas")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
