"""Small builders for nullable JSON-schema properties."""

from __future__ import annotations

import typing as t

Schema = dict[str, t.Any]


def nullable(kind: str, **extra: t.Any) -> Schema:
    return {"type": [kind, "null"], **extra}


STRING = nullable("string")
INTEGER = nullable("integer")
NUMBER = nullable("number")
BOOLEAN = nullable("boolean")
DATETIME = nullable("string", format="date-time")
DATE = nullable("string", format="date")
OBJECT = nullable("object", additionalProperties=True)
# Any JSON value: for fields the documents name but give no shape to. Listed as types, not
# `{}`, so that tools which read a property's `type` find one.
ANY = {"type": ["string", "number", "boolean", "object", "array", "null"]}
STRINGS = nullable("array", items={"type": ["string", "null"]})


def required(schema: Schema) -> Schema:
    """The same property, never null (primary keys)."""
    kinds = [k for k in schema["type"] if k != "null"]
    return {**schema, "type": kinds[0] if len(kinds) == 1 else kinds}


def object_schema(properties: dict[str, Schema], *, required_keys: t.Sequence[str] = ()) -> Schema:
    schema: Schema = {"type": "object", "additionalProperties": True, "properties": properties}
    if required_keys:
        schema["required"] = list(required_keys)
    return schema
