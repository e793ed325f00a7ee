"""Type fidelity: every value is emitted with the JSON type its schema declares, when it carries it.

APIs send numbers as JSON strings (`"revenue": "73.10"`, `"customer_id": "101"`, as Django
REST back ends do), booleans as strings or 0/1, whole numbers as floats. Emitted as sent,
such records fail their own SCHEMA in the target. `TypeFidelity` turns a value of the
wrong JSON type into the declared type when the value carries it exactly, and otherwise
emits it unchanged and says so once per field. It runs a page at a time: one C-level
check (msgspec, strict) clears a well-typed page; only a page that fails it is walked
field by field. It also replaces the SDK's per-field type conformance (the streams set
`TYPE_CONFORMANCE_LEVEL = NONE`): for JSON-decoded values the only change that
conformance makes is the boolean one, which this module makes too.
"""

from __future__ import annotations

import decimal
import logging
import math
import re
import threading
import types
import typing as t

import msgspec
import orjson

Record = dict[str, t.Any]
Converted = dict[str, str]  # field path -> how its values were converted, e.g. "'73.10' -> number"
Fix = t.Callable[[t.Any, str, Converted], t.Any]

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


def _to_number(value: t.Any) -> int | float:
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.match(text):
            return int(text)
        if _NUMBER.match(text) and math.isfinite(number := float(text)):
            return number
    raise _Unchanged


def _to_boolean(value: t.Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    if type(value) in (int, float) and value in (0, 1):
        return bool(value)
    raise _Unchanged


def _to_string(value: t.Any) -> str:
    if type(value) in (int, float):
        return orjson.dumps(value).decode()
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
        self._said: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._fixes = self._object_fixes(schema, stream)
        self._check = types.GenericAlias(list, (_struct(schema, f"{stream}_check"),))

    def page(self, records: list[Record]) -> list[Record]:
        """Conform a page in place and return it; cheap when (as usual) every value is well typed."""
        try:
            msgspec.convert(records, self._check)
        except msgspec.ValidationError:
            converted: dict[str, str] = {}
            for record in records:
                self._conform(record, self._fixes, converted)
            self._say_converted(converted)
        return records

    def _say_converted(self, converted: dict[str, str]) -> None:
        """One line per page for the fields first seen carrying their type in another JSON type."""
        with self._lock:
            new = {path: how for path, how in converted.items() if (path, "converted") not in self._said}
            self._said.update((path, "converted") for path in new)
        if new:
            self._logger.info(
                "%s: %d fields arrive in another JSON type than the schema declares, carrying the declared type; "
                "they are emitted as declared: %s.",
                self._stream, len(new), ", ".join(f"{path} ({how})" for path, how in sorted(new.items())),
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

    def _conform(self, record: Record, fixes: dict[str, Fix], converted: Converted, where: str = "") -> None:
        for name, fix in fixes.items():
            if name in record:
                record[name] = fix(record[name], f"{where}{name}", converted)

    def _nested_object(self, value: t.Any, fixes: dict[str, Fix], where: str, converted: Converted) -> t.Any:
        if isinstance(value, dict):
            self._conform(value, fixes, converted, f"{where}.")
        return value

    def _items(self, value: t.Any, fix: Fix, where: str, converted: Converted) -> t.Any:
        if isinstance(value, list):
            return [fix(item, f"{where}[]", converted) for item in value]
        return value

    def _scalar(  # noqa: PLR0917 - one call site, built in _fix_for
        self,
        value: t.Any,
        right: tuple[type, ...],
        convert: t.Callable[[t.Any], t.Any],
        kind: str,
        where: str,
        converted: Converted,
    ) -> t.Any:
        if value is None or (type(value) in right):
            return value
        try:
            result = convert(value)
        except _Unchanged:
            self._mismatch(where, value, kind)
            return value
        converted.setdefault(where, f"{_json_type(value)} {value!r:.20} -> {kind}")
        return result

    def _mismatch(self, where: str, value: t.Any, kind: str) -> None:
        with self._lock:
            if (where, "mismatch") in self._said:
                return
            self._said.add((where, "mismatch"))
        self._logger.warning(
            "%s.%s: a value of JSON type %s (%.40r) where the schema declares %s; emitted unchanged.",
            self._stream, where, _json_type(value), value, kind,
        )  # fmt: skip


def _json_type(value: t.Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


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
