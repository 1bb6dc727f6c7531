"""Focaltec's contract (focaltec/openapi-subset.json), applied to what crosses the portal stand-in.

`request_violations` checks a request against the matching operation (path,
method, parameters, headers, body schema); `response_violations` checks a
JSON answer against the operation's 200 schema. The stand-in refuses bodies
that break the schema, as the real portal does; while `recording()` is on
(the test fixture switches it on) every violation in either direction is
also kept, so a test can assert that none happened.
"""
from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from django.conf import settings
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_PATH = Path(settings.BASE_DIR) / "focaltec" / "openapi-subset.json"
SPEC_URI = "urn:focaltec:openapi-subset"
API_PREFIX = "/sandbox/portal"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern
    spec: dict

    @property
    def operation_id(self) -> str:
        return self.spec.get("operationId", f"{self.method} {self.template}")


@lru_cache
def spec() -> dict:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@lru_cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT4))


@lru_cache
def operations() -> tuple[Operation, ...]:
    found = []
    for template, methods in spec()["paths"].items():
        pieces = re.split(r"\{([^}]+)\}", template)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(pieces))
        pattern = re.compile(f"^{regex}$")
        for method, operation in methods.items():
            found.append(Operation(method.upper(), template, pattern, operation))
    return tuple(found)


def find_operation(method: str, path: str) -> Operation | None:
    api_path = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path
    for operation in operations():
        if operation.method == method and operation.pattern.match(api_path):
            return operation
    return None


def _validator(schema: dict, *, reading: bool):
    kind = OAS30ReadValidator if reading else OAS30WriteValidator
    return kind(schema, registry=_registry(), format_checker=oas30_format_checker)


def schema_errors(schema: dict, instance: Any, *, reading: bool) -> list[str]:
    """Every way `instance` breaks `schema` (a schema whose $refs point into the subset)."""
    resolved = _rebase(schema)
    errors = sorted(_validator(resolved, reading=reading).iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}" for e in errors]


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (SPEC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def request_body_schema(operation: Operation) -> dict | None:
    content = operation.spec.get("requestBody", {}).get("content", {})
    return content.get("application/json", {}).get("schema")


def response_schema(operation: Operation) -> dict | None:
    content = operation.spec.get("responses", {}).get("200", {}).get("content", {})
    media = content.get("*/*") or content.get("application/json") or {}
    return media.get("schema")


def _typed(value: str, schema: dict) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


def parameter_violations(operation: Operation, query: dict[str, list[str]], headers) -> list[str]:
    problems = []
    declared = {p["name"]: p for p in operation.spec.get("parameters", [])}
    for name in query:
        if declared.get(name, {}).get("in") != "query":
            problems.append(f"query parameter {name!r} is not declared by {operation.operation_id}")
    for name, parameter in declared.items():
        place, schema = parameter["in"], parameter.get("schema", {})
        if place == "header":
            if parameter.get("required") and not headers.get(name):
                problems.append(f"header {name} is required")
            continue
        if place != "query":
            continue
        values = query.get(name)
        if not values:
            if parameter.get("required"):
                problems.append(f"query parameter {name!r} is required")
            continue
        if schema.get("type") == "array":
            instance = [_typed(v, schema.get("items", {})) for v in values]
        elif len(values) > 1:
            problems.append(f"query parameter {name!r} given {len(values)} times")
            continue
        else:
            instance = _typed(values[0], schema)
        problems += [f"query parameter {name!r}: {e}" for e in schema_errors(schema, instance, reading=False)]
    return problems


def request_violations(method: str, path: str, query: dict[str, list[str]], headers, body: bytes) -> list[str]:
    operation = find_operation(method, path)
    if operation is None:
        return [f"{method} {path} is not an operation of the contract"]
    problems = parameter_violations(operation, query, headers)
    schema = request_body_schema(operation)
    if schema is not None:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return problems + ["body is not JSON"]
        problems += [f"body {e}" for e in schema_errors(schema, payload, reading=False)]
    elif body:
        problems.append(f"{operation.operation_id} takes no body")
    return problems


def response_violations(method: str, path: str, status: int, body: bytes) -> list[str]:
    operation = find_operation(method, path)
    if operation is None or status != 200:
        return []
    schema = response_schema(operation)
    try:
        payload = json.loads(body)
    except ValueError:
        return [f"{operation.operation_id} answered 200 with a body that is not JSON"]
    return [f"response {e}" for e in schema_errors(schema, payload, reading=True)] if schema else []


# --- recording, for tests ----------------------------------------------------

_lock = threading.Lock()
_recorder: list[str] | None = None
_seen: list[str] = []


@contextmanager
def recording() -> Iterator[list[str]]:
    """Keep every contract violation the stand-in sees until the block ends; yields that list."""
    global _recorder
    violations: list[str] = []
    with _lock:
        # Nested blocks capture for themselves (a test sending a wrong request on purpose) and then hand back.
        previous = _recorder
        _recorder = violations
        _seen.clear()
    try:
        yield violations
    finally:
        with _lock:
            _recorder = previous


def is_recording() -> bool:
    return _recorder is not None


def record(direction: str, method: str, path: str, problems: list[str]) -> None:
    with _lock:
        if _recorder is None:
            return
        _seen.append(f"{method} {path}")
        _recorder.extend(f"{direction} {method} {path}: {problem}" for problem in problems)


def operations_seen() -> list[str]:
    with _lock:
        return list(_seen)
