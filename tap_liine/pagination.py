"""Paginators.

`TieSafeCursorPaginator` walks Liine's newest-first, strictly-"older than" timestamp cursor
without losing interactions that share a second at a page boundary. It derives the cursor
from the records themselves (never from the envelope's `pagination_timestamp`, which the
document describes both as the first and as the last interaction of the page): the next
request asks for everything older than *one second after* the page's oldest start_time, so
that second is read again in full, and the ids already emitted from it are dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import typing as t

from singer_sdk.pagination import BaseAPIPaginator

if t.TYPE_CHECKING:
    import requests

CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Cursor:
    """What the next interactions request sends, and what it must not emit again."""

    before: str | None = None  # `pagination_timestamp`: only interactions strictly older
    skip: frozenset[int] = frozenset()  # ids already emitted from the boundary second
    limit: int | None = None  # page size, widened while reading a crowded second
    crowded: str | None = None  # a second with more interactions than a page holds
    only_type: str | None = None  # while narrowing a crowded second: this type only
    pending_types: tuple[str, ...] = ()  # types of the crowded second still to read


def parse_second(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    return moment.replace(microsecond=0)


def format_second(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime(CURSOR_FORMAT)


def one_second_after(value: str) -> str:
    return format_second(parse_second(value) + dt.timedelta(seconds=1))


class TieSafeCursorPaginator(BaseAPIPaginator[Cursor]):
    """Timestamp cursor that is safe with ties, terminates, and narrows crowded seconds.

    The stream hands each decoded page to `accept`, which drops already-emitted ids;
    `advance` (called by the SDK after the page's records are out) computes the next cursor.
    A full page whose interactions all share one second cannot be paged past by timestamp:
    the paginator first widens the page to `max_limit`, then re-reads that second one
    interaction type at a time; if a single type still fills a page it logs how many
    interactions may be missing and moves on.
    """

    def __init__(
        self,
        *,
        limit: int,
        max_limit: int,
        types: t.Sequence[str],
        where: str,
        time_key: str = "start_time",
    ) -> None:
        super().__init__(Cursor(limit=limit))
        self._max_limit = max_limit
        self._types = tuple(types)
        self._where = where
        self._time_key = time_key
        self._page: list[dict[str, t.Any]] = []
        self._page_limit = limit
        self._page_count_reported: int | None = None
        self.missed = 0

    def accept(
        self, records: list[dict[str, t.Any]], *, limit: int | None, count: int | None
    ) -> list[dict[str, t.Any]]:
        """Remember the raw page; return the records not emitted before."""
        self._page = records
        self._page_limit = limit or self.current_value.limit or self._max_limit
        self._page_count_reported = count
        cursor = self.current_value
        fresh = [r for r in records if r["id"] not in cursor.skip]
        if cursor.crowded is not None:  # narrowing: only the crowded second is wanted now
            fresh = [r for r in fresh if self._second(r) == cursor.crowded]
        return fresh

    def continue_if_empty(self, response: requests.Response) -> bool:
        # A page of nothing but already-emitted ids is not the end of the data, nor is
        # one type of a crowded second that happens to be empty.
        return (bool(self._page) or self.current_value.crowded is not None) and self.has_more(response)

    def has_more(self, response: requests.Response) -> bool:  # noqa: ARG002
        return self.current_value.crowded is not None or len(self._page) >= self._page_limit

    def get_next(self, response: requests.Response) -> Cursor | None:  # noqa: ARG002
        cursor = self.current_value
        if cursor.crowded is not None:
            return self._next_while_narrowing(cursor)
        seconds = [self._second(r) for r in self._page]
        oldest, newest = min(seconds), max(seconds)
        boundary_ids = frozenset(r["id"] for r, s in zip(self._page, seconds, strict=True) if s == oldest)
        if oldest == newest:
            return self._crowded_second(cursor, oldest, boundary_ids)
        carried = cursor.skip if cursor.before == one_second_after(oldest) else frozenset()
        return Cursor(before=one_second_after(oldest), skip=carried | boundary_ids, limit=cursor.limit)

    def _crowded_second(self, cursor: Cursor, second: str, ids: frozenset[int]) -> Cursor:
        skip = cursor.skip | ids
        again = one_second_after(second)
        if (cursor.limit or 0) < self._max_limit:
            return Cursor(before=again, skip=skip, limit=self._max_limit)
        if len(self._types) > 1:
            first, *rest = self._types
            return Cursor(again, skip, self._max_limit, second, first, tuple(rest))
        self._warn_missed(second, None)
        return Cursor(before=second, limit=cursor.limit)

    def _next_while_narrowing(self, cursor: Cursor) -> Cursor:
        second = t.cast("str", cursor.crowded)
        at_second = [r for r in self._page if self._second(r) == second]
        if len(self._page) >= self._page_limit and len(at_second) == len(self._page):
            self._warn_missed(second, cursor.only_type)
        skip = cursor.skip | {r["id"] for r in at_second}
        if cursor.pending_types:
            first, *rest = cursor.pending_types
            return dataclasses.replace(cursor, skip=skip, only_type=first, pending_types=tuple(rest))
        # The crowded second is done: continue strictly older than it, all types again.
        return Cursor(before=second, limit=cursor.limit)

    def _warn_missed(self, second: str, only_type: str | None) -> None:
        read = len(self._page)
        reported = self._page_count_reported
        upper = f"at most {reported - read}" if reported is not None and reported > read else "an unknown number of"
        kind = f"{only_type} " if only_type else ""
        self.missed += 1
        logger.warning(
            "%s: at least %d %sinteractions start at %s, more than one page of %d can hold, and the API "
            "pages by whole seconds only; %s further %sinteractions of that second may have been missed.",
            self._where, read, kind, second, self._page_limit, upper, kind,
        )  # fmt: skip

    def _second(self, record: dict[str, t.Any]) -> str:
        value = record[self._time_key]
        if len(value) == 20 and value[19] == "Z" and value[10] == "T":
            return t.cast("str", value)
        return format_second(parse_second(value))


class CountedPageNumberPaginator(BaseAPIPaginator[int]):
    """Page numbers from 1, until the envelope's `count` rows have been received.

    It stops on `count`, not on "fewer rows than asked for": the server may silently cap
    `per_page`, and page numbers follow the server's own page size, so nothing is skipped.
    Rows received twice (a row that became matching mid-run shifts later pages) are dropped.
    """

    def __init__(self) -> None:
        super().__init__(1)
        self._count: int | None = None
        self._page_rows = 0
        self._seen: set[t.Any] = set()

    def accept(self, rows: list[dict[str, t.Any]], *, count: int | None) -> list[dict[str, t.Any]]:
        self._page_rows = len(rows)
        self._count = count
        fresh = [row for row in rows if row.get("id") not in self._seen]
        self._seen.update(row.get("id") for row in fresh)
        return fresh

    def continue_if_empty(self, response: requests.Response) -> bool:
        return self._page_rows > 0 and self.has_more(response)

    def has_more(self, response: requests.Response) -> bool:  # noqa: ARG002
        # Without a count (not documented to be absent, but cheap to tolerate): until a page is empty.
        return self._page_rows > 0 and (self._count is None or len(self._seen) < self._count)

    def get_next(self, response: requests.Response) -> int | None:  # noqa: ARG002
        return self.current_value + 1


class ListPagesPaginator(BaseAPIPaginator[int]):
    """Page numbers from 1 while any of the named lists came back full (`size` items)."""

    def __init__(self, size: int, lists: t.Sequence[str]) -> None:
        super().__init__(1)
        self._size = size
        self._lists = tuple(lists)
        self._full = False

    def accept(self, body: dict[str, t.Any]) -> None:
        self._full = any(len(body.get(name) or []) >= self._size for name in self._lists)

    def has_more(self, response: requests.Response) -> bool:  # noqa: ARG002
        return self._full

    def get_next(self, response: requests.Response) -> int | None:  # noqa: ARG002
        return self.current_value + 1
