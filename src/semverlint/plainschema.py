"""A proof that an object is valid against a JSON Schema, for the plain cases only.

Importing jsonschema costs 40-50 ms, a tenth of a pre-commit run, and nearly every
configuration is a few scalar keys (`dialect: duckdb`). `plainly_valid` answers True only
when it has checked every constraint the schema puts on the object: an object of known
keys whose values are strings, numbers, booleans or null, held to `type`, `enum` and
`minLength`. Anything else (a nested value, another keyword, a value that fails) is
left to jsonschema, which also words every error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Keywords that annotate and constrain nothing.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples"}
)
_OBJECT_KEYWORDS = _ANNOTATIONS | {"type", "properties", "additionalProperties", "required"}
_VALUE_KEYWORDS = _ANNOTATIONS | {"type", "enum", "minLength"}


def plainly_valid(data: Any, schema: Mapping[str, Any]) -> bool:
    """True when `data` is certainly valid against `schema`; False when it is not, or when
    telling needs more than this module checks."""
    if not schema.keys() <= _OBJECT_KEYWORDS or schema.get("type") != "object":
        return False
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        return False
    properties = schema.get("properties", {})
    if (
        schema.get("additionalProperties", True) is not False
        or not data.keys() <= properties.keys()
    ):
        return False  # other keys are allowed by a schema this module does not read
    if not set(schema.get("required", ())) <= data.keys():
        return False
    return all(_plain_value(value, properties[key]) for key, value in data.items())


def _plain_value(value: Any, schema: Mapping[str, Any]) -> bool:
    if not isinstance(schema, Mapping) or not schema.keys() <= _VALUE_KEYWORDS:
        return False
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, kind) for kind in kinds):
            return False
    if "enum" in schema:
        # JSON tells true from 1, Python's == does not: only enums of strings are read.
        enum = schema["enum"]
        if not all(isinstance(item, str) for item in enum) or not isinstance(value, str):
            return False
        if value not in enum:
            return False
    if "minLength" in schema:
        return isinstance(value, str) and len(value) >= schema["minLength"]
    return True


def _is(value: Any, kind: Any) -> bool:
    """Whether `value` has the JSON type `kind`, for the scalar types."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "null":
        return value is None
    return False  # integer, object, array: left to jsonschema
