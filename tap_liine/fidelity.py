"""Type fidelity: every value is emitted with the JSON type its schema declares, when it carries it.

APIs send numbers as JSON strings (`"revenue": "73.10"`, `"customer_id": "101"`, as Django
REST back ends do), booleans as strings or 0/1, whole numbers as floats. Emitted as sent,
such records fail their own SCHEMA in the target. `TypeFidelity` turns a value of the
wrong JSON type into the declared type when the value carries it exactly (a decimal string
becomes a `Decimal`, never a float), and otherwise emits it unchanged and says so once per
field. What it says names the field, the JSON types and how many values: never a value,
which may be a patient's email or phone number. It runs a page at a time: one C-level
check (msgspec, strict) clears a well-typed page; only a page that fails it is walked
field by field. It also replaces the SDK's per-field type conformance (the streams set
`TYPE_CONFORMANCE_LEVEL = NONE`): for JSON-decoded values the only change that
conformance makes is the boolean one, which this module makes too.
"""

from __future__ import annotations

import collections
import decimal
import logging
import re
import threading
import types
import typing as t

import msgspec

from tap_liine.errors import json_type

Record = dict[str, t.Any]
# (field path, JSON type sent, type declared, converted?) -> how many values of one page
Seen = collections.Counter[tuple[str, str, str, bool]]
Fix = t.Callable[[t.Any, str, Seen], t.Any]

_INTEGER = re.compile(r"\A[+-]?\d+\Z")
_NUMBER = re.compile(r"\A[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
_NUMBERS = (int, float, decimal.Decimal)


class _Unchanged(Exception):
    """The value does not carry the declared type."""


def _to_integer(value: t.Any) -> int:
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value)
    if isinstance(value, float) and value.is_integer():  # False for NaN and infinities
        return int(value)
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise _Unchanged


def _to_number(value: t.Any) -> int | decimal.Decimal:
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.match(text):
            return int(text)
        if _NUMBER.match(text):  # every digit kept, as the bodies' own numbers (http.py)
            return decimal.Decimal(text)
    raise _Unchanged


def _to_boolean(value: t.Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    if type(value) in _NUMBERS and value in (0, 1):  # `type(value) in`: True is no number here
        return bool(value)
    raise _Unchanged


def _to_string(value: t.Any) -> str:
    if type(value) in _NUMBERS:
        return str(value)  # a Decimal as the API wrote it: "73.10"
    raise _Unchanged


# declared JSON type -> (Python types that are already right, conversion of the others)
_KINDS: dict[str, tuple[tuple[type, ...], t.Callable[[t.Any], t.Any]]] = {
    "integer": ((int,), _to_integer),
    "number": (_NUMBERS, _to_number),
    "boolean": ((bool,), _to_boolean),
    "string": ((str,), _to_string),
}


def _declared(schema: dict[str, t.Any]) -> tuple[str | None, bool]:
    """(the one non-null JSON type of a property, whether null is allowed); None: not one type."""
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    concrete = [k for k in kinds if k != "null"]
    return (concrete[0] if len(concrete) == 1 else None), "null" in kinds


class TypeFidelity:
    """Conforms pages of records to one stream's schema; thread-safe (pages come from workers)."""

    def __init__(self, schema: dict[str, t.Any], *, stream: str, logger: logging.Logger) -> None:
        self._stream = stream
        self._logger = logger
        self._said: set[tuple[str, bool]] = set()  # (field path, converted?) said
        self._lock = threading.Lock()
        self._fixes = self._object_fixes(schema, stream)
        self._check = types.GenericAlias(list, (_struct(schema, f"{stream}_check"),))

    def page(self, records: list[Record]) -> list[Record]:
        """Conform a page in place and return it; cheap when (as usual) every value is well typed."""
        try:
            msgspec.convert(records, self._check)
        except msgspec.ValidationError:
            seen: Seen = collections.Counter()
            for record in records:
                self._conform(record, self._fixes, seen)
            self._say(seen, len(records))
        return records

    def _say(self, seen: Seen, records: int) -> None:
        """The fields first seen in another JSON type than declared: those converted in one INFO
        line, each of the others in a WARNING. Field names, JSON types and counts only."""
        with self._lock:
            new = {key: count for key, count in seen.items() if (key[0], key[3]) not in self._said}
            self._said.update((key[0], key[3]) for key in new)
        converted = [f"{path} ({sent} -> {kind}, {count} of {records} records)"
                     for (path, sent, kind, done), count in sorted(new.items()) if done]  # fmt: skip
        if converted:
            self._logger.info(
                "%s: %d fields arrive in another JSON type than the schema declares, carrying the declared type; "
                "they are emitted as declared: %s.",
                self._stream, len(converted), ", ".join(converted),
            )  # fmt: skip
        for (path, sent, kind, done), count in sorted(new.items()):
            if not done:
                self._logger.warning(
                    "%s.%s: %d of %d records on a page have a value of JSON type %s where the schema declares %s; "
                    "emitted unchanged (said once per field).",
                    self._stream, path, count, records, sent, kind,
                )  # fmt: skip

    # ----- the slow path, field by field --------------------------------------------------

    def _object_fixes(self, schema: dict[str, t.Any], path: str) -> dict[str, Fix]:
        fixes: dict[str, Fix] = {}
        for name, sub in (schema.get("properties") or {}).items():
            fix = self._fix_for(sub, f"{path}.{name}")
            if fix is not None:
                fixes[name] = fix
        return fixes

    def _fix_for(self, schema: dict[str, t.Any], path: str) -> Fix | None:
        kind, _ = _declared(schema)
        if kind is not None and kind in _KINDS:
            right, convert = _KINDS[kind]
            scalar: str = kind
            return lambda value, where, seen: self._scalar(value, right, convert, scalar, where, seen)
        if kind == "object" and schema.get("properties"):
            inner = self._object_fixes(schema, path)
            return lambda value, where, seen: self._nested_object(value, inner, where, seen)
        if kind == "array" and isinstance(schema.get("items"), dict):
            item = self._fix_for(schema["items"], f"{path}[]")
            if item is not None:
                return lambda value, where, seen: self._items(value, item, where, seen)
        return None

    def _conform(self, record: Record, fixes: dict[str, Fix], seen: Seen, where: str = "") -> None:
        for name, fix in fixes.items():
            if name in record:
                record[name] = fix(record[name], f"{where}{name}", seen)

    def _nested_object(self, value: t.Any, fixes: dict[str, Fix], where: str, seen: Seen) -> t.Any:
        if isinstance(value, dict):
            self._conform(value, fixes, seen, f"{where}.")
        return value

    def _items(self, value: t.Any, fix: Fix, where: str, seen: Seen) -> t.Any:
        if isinstance(value, list):
            return [fix(item, f"{where}[]", seen) for item in value]
        return value

    def _scalar(  # noqa: PLR0917 - one call site, built in _fix_for
        self,
        value: t.Any,
        right: tuple[type, ...],
        convert: t.Callable[[t.Any], t.Any],
        kind: str,
        where: str,
        seen: Seen,
    ) -> t.Any:
        if value is None or (type(value) in right):
            return value
        try:
            result = convert(value)
        except _Unchanged:
            seen[where, json_type(value), kind, False] += 1
            return value
        seen[where, json_type(value), kind, True] += 1
        return result


def _struct(schema: dict[str, t.Any], name: str) -> type:
    """A msgspec Struct that accepts exactly the well-typed records of `schema` (unknown fields pass)."""
    fields = []
    rename = {}
    for position, (prop, sub) in enumerate((schema.get("properties") or {}).items()):
        attribute = f"f{position}"  # any property name, e.g. `_id`, maps to a valid attribute
        rename[attribute] = prop
        fields.append((attribute, _python_type(sub, f"{name}_{position}"), None))
    return msgspec.defstruct(name, fields, rename=rename, forbid_unknown_fields=False, gc=False)


def _python_type(schema: dict[str, t.Any], name: str) -> t.Any:
    kind, nullable = _declared(schema)
    base: t.Any
    if kind == "integer":
        base = int
    elif kind == "number":
        base = float  # msgspec accepts ints (and Decimals) for floats
    elif kind == "boolean":
        base = bool
    elif kind == "string":
        base = str
    elif kind == "object":
        base = _struct(schema, name) if schema.get("properties") else dict
    elif kind == "array":
        items = schema.get("items")
        base = types.GenericAlias(list, (_python_type(items, f"{name}_items"),)) if isinstance(items, dict) else list
    else:
        return t.Any
    return t.Optional[base] if nullable else base  # noqa: UP045 - a runtime type expression
