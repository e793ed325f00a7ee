"""The lean record path's guarantee: what the SDK's type conformance would have done.

The streams set `TYPE_CONFORMANCE_LEVEL = NONE`: the SDK's recursive conformance walks
every field of every record (~45% of a default tap's time). For values decoded from JSON
(str, int, float, bool, None, lists, dicts) it changes exactly one thing, since our
schemas allow additional properties (unknown fields pass through) and JSON holds no NaN,
infinity, datetimes or bytes: in a property typed only boolean (or boolean/null), a
non-null value that is not a bool becomes `value != 0`. `BooleanConformer` does that and
nothing else, checking a page one field at a time; tests/test_lean_path.py proves the
output equal to the SDK's straightforward path.
"""

from __future__ import annotations

import typing as t
from itertools import repeat

Record = dict[str, t.Any]


def _exclusive_boolean(schema: dict[str, t.Any]) -> bool:
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds or []
    return bool(kinds) and set(kinds) <= {"boolean", "null"} and "boolean" in kinds


class BooleanConformer:
    """Coerces non-bool values of boolean-only properties, top level and nested, as the SDK does."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        properties = schema.get("properties", {})
        self.booleans = tuple(name for name, sub in properties.items() if _exclusive_boolean(sub))
        self.nested = {
            name: BooleanConformer(sub)
            for name, sub in properties.items()
            if "properties" in sub and BooleanConformer(sub).needed
        }
        self.nested_lists = {
            name: BooleanConformer(sub["items"])
            for name, sub in properties.items()
            if isinstance(sub.get("items"), dict) and BooleanConformer(sub["items"]).needed
        }

    @property
    def needed(self) -> bool:
        return bool(self.booleans or self.nested or self.nested_lists)

    def page(self, records: list[Record]) -> list[Record]:
        """Conform a page in place; cheap when (as usual) every boolean already is one."""
        for name in self.booleans:
            # One C-level pass per field: the set of value types found on the page.
            if not set(map(type, map(dict.get, records, repeat(name)))) <= _OK:
                for record in records:
                    value = record.get(name)
                    if type(value) not in _OK:
                        record[name] = value != 0
        for name, inner in self.nested.items():
            inner.page([r[name] for r in records if isinstance(r.get(name), dict)])
        for name, inner in self.nested_lists.items():
            for record in records:
                items = record.get(name)
                if isinstance(items, list):
                    inner.page([item for item in items if isinstance(item, dict)])
        return records


_OK = frozenset((bool, type(None)))
