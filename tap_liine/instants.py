"""Date-times: the tap's one parser, and offsets other than zero emitted as the same instant in UTC.

`parse_datetime` reads every date-time the tap meets (settings, API values, state), with
pendulum: ISO 8601 / RFC 3339, a date alone as its midnight, no offset read as UTC.

Loaders that hand a date-time to the warehouse as text drop its offset when the column is a
`timestamp` without time zone: target-postgres with `use_copy` and with BATCH files, so
that `10:43:02-05:00` would land as 10:43:02, five hours early, while its INSERT path lands
15:43:02 (the instant). The tap's time policy is one instant whatever the target and path
(README), so such values are rewritten as that instant in UTC (`15:43:02Z`): the same
moment, to the microsecond. Values in UTC already (`Z`, `+00:00`) and values without an
offset are emitted as sent. Said once per field, without a value.

Only the top-level properties typed `date-time` are rewritten (the README's time policy
lists them); a field whose purpose is its offset (`created_at_with_tz`) is typed a plain
string, and date-times inside objects (a conversation's `patient`) land as JSON, offset
and all, so both are emitted as sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import typing as t

import pendulum


def parse_datetime(value: str) -> dt.datetime:
    """An ISO-8601 date or date-time as an aware datetime (UTC when no offset is given); ValueError if not one."""
    moment = pendulum.parse(value, exact=True)
    if isinstance(moment, dt.datetime):
        return moment
    if isinstance(moment, dt.date):
        return pendulum.datetime(moment.year, moment.month, moment.day)
    msg = f"not a date or date-time but a {type(moment).__name__.lower()}"  # a time, a duration, an interval
    raise ValueError(msg)


def read_datetime(value: t.Any) -> dt.datetime | None:
    """`parse_datetime` of a value that may be absent or unreadable: None then."""
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


_OFFSET = re.compile(r"[+-]\d\d:?\d\d\Z")
_UTC_SUFFIXES = ("Z", "z", "+00:00", "+0000", "-00:00")


def _to_utc(value: str) -> str | None:
    """`value` as a UTC instant ending in Z, or None when it is no date-time with a non-zero offset."""
    if value.endswith(_UTC_SUFFIXES) or not _OFFSET.search(value):
        return None
    moment = read_datetime(value)
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


class UtcInstants:
    """Rewrites a stream's top-level date-time properties in UTC, a page at a time; thread-safe."""

    def __init__(self, schema: dict[str, t.Any], *, stream: str, logger: logging.Logger) -> None:
        properties = schema.get("properties") or {}
        self.fields = [name for name, sub in properties.items() if sub.get("format") == "date-time"]
        self._stream, self._logger = stream, logger
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def page(self, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        for name in self.fields:
            for record in records:
                value = record.get(name)
                if isinstance(value, str) and not value.endswith("Z") and (utc := _to_utc(value)):
                    record[name] = utc
                    self._say(name)
        return records

    def _say(self, name: str) -> None:
        with self._lock:
            if name in self._said:
                return
            self._said.add(name)
        self._logger.info(
            "%s.%s arrives with UTC offsets other than zero; emitted as the same instants in UTC, which every "
            "loader lands alike.",
            self._stream, name,
        )  # fmt: skip
