"""Liine's newest-first timestamp cursor, safe under every reading of its document.

The API pages with `pagination_timestamp`: "interactions older than" a second. The
document leaves open, or contradicts itself on, what the tap needs to page safely: what
the envelope's `pagination_timestamp` is (the page's oldest or newest start), which clock
the cursor is compared with (`start_time`, a wall-clock time written with a Z, or
`start_time_tz`, UTC), whether `limit` is honoured and reported truthfully, and what
`count` counts. `TieSafeCursorPaginator` relies on none of those answers:

- It derives the cursor from the records, never from the envelope: the next request asks
  for interactions older than *one second after* the page's oldest start, so that second
  (the boundary) is read again in full; ids already emitted are dropped.
- The boundary's interactions must come back at the top of the next page, and nothing on
  it may be newer than the cursor. If that fails, the server compares the cursor with the
  other clock: the walk switches clocks once (the decision is shared with every other
  walk of the stream) and asks again; if neither clock explains the page, it warns.
- It ends only on proof from the server: an empty page, a page of nothing but the boundary
  second again (nothing is older), or a page wholly older than the walk's first day. Never
  on `count`, on the page size or on a short page: a server may cap `limit` silently, and
  its `count` may be capped, lag or count one page. The first page's `count` (no cursor yet)
  is a cross-check: when the walk ends having read fewer, it warns with both numbers and
  the walk counts as not read to proof (`finish`), so its range is read again next run.
- A server may read the cursor as "at or older than" (inclusive): a page holding the
  cursor's own second, nothing newer, says so; the walk then sends one second less from
  then on (the decision is shared like the clock's) and asks again.
- A full page whose interactions all share one second cannot be paged past by timestamp:
  it widens the page to `max_limit`, then re-reads that second one interaction type at a
  time; if one type still fills a page it moves on, and when the walk ends it warns how many
  may be missing and counts as not read to proof, unless the first page's `count` equals what
  the walk read (a page of one second as large as any the walk got may also be all there is,
  e.g. a walk of one interaction).
- Every cursor is strictly older than the one before (else the API ignores the cursor and
  the walk fails with that message), except while re-asking one second (another clock,
  inclusive reading, wider pages, type by type); more than a few requests in a row that get
  no older stop the walk with one sentence, not read to proof: the walk always ends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from singer_sdk.exceptions import FatalAPIError
from singer_sdk.pagination import BaseAPIPaginator

from tap_liine.instants import read_datetime
from tap_liine.observations import Observations, as_count

if t.TYPE_CHECKING:
    import requests

SECOND_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
LOCAL, UTC_CLOCK = "start_time", "start_time_tz"
CLOCK_QUESTION = "liine.cursor_clock"
INCLUSIVE_QUESTION = "liine.cursor"
_PRUNE_AT = 50_000  # remembered ids before those that can no longer come back are forgotten


@dataclasses.dataclass(frozen=True)
class Cursor:
    """What the next interactions request sends."""

    before: str | None = None  # `pagination_timestamp`: only interactions strictly older
    limit: int | None = None  # page size asked, widened while reading a crowded second
    only_type: str | None = None  # while narrowing a crowded second: this type only
    step: int = 0  # numbers the requests of a walk: no two tokens are alike
    inclusive: bool = False  # the server reads the cursor as "at or older than"

    @property
    def sent(self) -> str | None:
        """The `pagination_timestamp` that asks for interactions strictly older than `before`."""
        return _shift(self.before, -1) if self.before and self.inclusive else self.before


def second_of(value: t.Any) -> str | None:
    """A start time as `YYYY-MM-DDTHH:MM:SSZ` (UTC notation), or None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":
        return value  # already in that notation: the API's usual shape, read without parsing
    moment = read_datetime(value)
    return moment.astimezone(dt.timezone.utc).strftime(SECOND_FORMAT) if moment else None


def _shift(second: str, seconds: int) -> str:
    moment = dt.datetime.strptime(second, SECOND_FORMAT) + dt.timedelta(seconds=seconds)
    return moment.strftime(SECOND_FORMAT)


class TieSafeCursorPaginator(BaseAPIPaginator[Cursor]):
    """One walk (a window, or everything updated since the bookmark) of one customer."""

    def __init__(
        self,
        *,
        limit: int,
        max_limit: int,
        types: t.Sequence[str],
        where: str,
        observations: Observations,
        first_day: dt.date | None = None,
    ) -> None:
        super().__init__(Cursor(limit=limit, inclusive=observations.decided(INCLUSIVE_QUESTION, False)))
        # A page wholly older than the day before the walk's first (either clock) is past its end.
        self._floor = (first_day - dt.timedelta(days=1)).strftime(SECOND_FORMAT) if first_day else None
        self._max_limit = max_limit
        self._types = tuple(types)
        self._where = where
        self._observations = observations
        self._clock: str = observations.decided(CLOCK_QUESTION, LOCAL)
        # A walk tries the other clock at most once: "none" -> "trying" -> "settled".
        self._switch = "none"
        self._trust_once = False  # the page asked again after giving up on a switch is not checked
        self._seen: dict[t.Any, str] = {}  # id -> its earliest start second (to forget it once safe)
        self._emitted = 0
        self._count_first: int | None = None
        self._capacity = 0  # the most interactions one page of this walk held
        self._page: list[dict[str, t.Any]] = []
        self._prev_page: list[dict[str, t.Any]] = []  # the page the current cursor came from
        self._expected: frozenset[t.Any] = frozenset()  # ids that must come back on the next page
        self._redo = False  # ask again from the previous page, in the other clock
        self._crowded: str | None = None  # the second being read type by type
        self._pending_types: tuple[str, ...] = ()
        self._redo_inclusive = False  # ask again, the cursor read as "at or older than"
        self._lowest: str | None = None  # the oldest cursor asked so far
        self._stalled = 0  # requests in a row that got no older than `_lowest`
        self._stall_limit = len(self._types) + 5  # widen, each type, both clocks, inclusive: then stop
        self._cut: list[tuple[str, str | None, int, int]] = []  # full pages of one second: see `finish`
        self.missed = 0  # warnings about interactions that may be missing

    # ----- the stream hands each decoded page here --------------------------------------

    def accept(self, records: list[dict[str, t.Any]], envelope: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
        """Remember the page; return its records not emitted before."""
        cursor = self.current_value
        capped = cursor.step and len(self._page) == self._capacity < (cursor.limit or 0)
        self._capacity = max(self._capacity, len(records))
        if cursor.step == 0:
            self._count_first = as_count(envelope.get("count"))
            self._note_envelope_timestamp(records, envelope.get("pagination_timestamp"))
        if cursor.before and not cursor.inclusive and self._holds_cursor_second(records, cursor.before):
            self._redo_inclusive = True
            self._observations.decide(INCLUSIVE_QUESTION, True)
            self._observations.note(
                INCLUSIVE_QUESTION,
                "interactions: Liine reads pagination_timestamp as \"at or older than\" (a page asked for "
                "interactions older than %s held some of that second, in %s); the tap sends one second less "
                "from now on.",
                cursor.before, self._where,
            )  # fmt: skip
            self._page = []
            return []
        if cursor.before and self._expected and not self._trust_once:
            if self._consistent(records, cursor.before):
                self._switch = "settled" if self._switch == "trying" else self._switch
            elif self._switch != "settled":
                self._switch_clock(cursor.before)
                self._page = []
                return []
            else:
                self._boundary_not_explained(cursor.before)
        self._trust_once = False
        fresh = []
        for record in records:
            key = record.get("id")
            if key is None:
                fresh.append(record)
                continue
            if key in self._seen or (self._crowded and self._second(record) != self._crowded):
                continue
            seconds = [s for s in (second_of(record.get(LOCAL)), second_of(record.get(UTC_CLOCK))) if s]
            self._seen[key] = min(seconds, default="")
            fresh.append(record)
        self._emitted += len(fresh)
        if capped and fresh:  # a full page of the server's size, then more: it caps `limit`
            self._observations.note(
                "liine.limit",
                "interactions: Liine returns at most %d interactions per page although limit=%s was asked "
                "(its envelope says limit=%s); the tap reads on until a page is empty.",
                self._capacity, cursor.limit, envelope.get("limit"),
            )  # fmt: skip
        self._page = records
        return fresh

    def _note_envelope_timestamp(self, records: list[dict[str, t.Any]], value: t.Any) -> None:
        """Which of the document's two readings the envelope's `pagination_timestamp` follows (unused)."""
        seconds = [s for r in records if (s := self._second(r)) is not None]
        if len(set(seconds)) > 1 and second_of(value) in (min(seconds), max(seconds)):
            reading = "oldest (last)" if second_of(value) == min(seconds) else "newest (first)"
            self._observations.note(
                "liine.pagination_timestamp",
                "interactions: Liine's pagination_timestamp is the %s interaction of the page; the tap does not use "
                "it (it derives its cursor from the interactions themselves).",
                reading,
            )  # fmt: skip

    def _holds_cursor_second(self, records: list[dict[str, t.Any]], before: str) -> bool:
        """Interactions of the cursor's own second and none newer: the cursor was read inclusively."""
        seconds = [s for r in records if (s := self._second(r)) is not None]
        return bool(seconds) and max(seconds) == before

    def _consistent(self, records: list[dict[str, t.Any]], before: str) -> bool:
        """Did the server read the cursor in our clock: nothing at or after it, and the boundary back?"""
        if any((s := self._second(r)) is not None and s >= before for r in records):
            return False
        return bool(self._expected & {r.get("id") for r in records})

    def _switch_clock(self, before: str) -> None:
        """Ask the same boundary again in the other clock; if that fails too, go back and warn."""
        self._redo = True
        self._clock = UTC_CLOCK if self._clock == LOCAL else LOCAL
        self._observations.decide(CLOCK_QUESTION, self._clock)
        if self._switch == "trying":  # neither clock explains this boundary
            self._switch, self._trust_once = "settled", True
            self._boundary_not_explained(before)
            return
        self._switch = "trying"
        self._observations.note(
            f"{CLOCK_QUESTION}={self._clock}",
            "interactions: Liine compares pagination_timestamp with %s, not %s (noticed in %s); "
            "the tap pages by %s from now on.",
            self._clock, LOCAL if self._clock == UTC_CLOCK else UTC_CLOCK, self._where, self._clock,
        )  # fmt: skip

    def _boundary_not_explained(self, before: str) -> None:
        self._observations.warn(
            f"boundary:{self._where}:{before}",
            "%s: the interactions of second %s did not come back on the next page under either reading of "
            "pagination_timestamp (they may have been deleted meanwhile); %s further interactions of that "
            "second may have been missed; the next run reads this range again.",
            self._where, _shift(before, -1), self._upper_bound(),
        )  # fmt: skip

    # ----- the SDK asks these after each page -------------------------------------------

    def continue_if_empty(self, response: requests.Response) -> bool:  # noqa: ARG002
        # A page of nothing but already-emitted ids, or an empty type of a crowded second,
        # is not the end of the data.
        return not self._finished_walk()

    def has_more(self, response: requests.Response) -> bool:  # noqa: ARG002
        return not self._finished_walk()

    def _finished_walk(self) -> bool:
        """Only on proof: an empty page, or one wholly older than the walk's first day."""
        if self._redo or self._redo_inclusive or self._crowded is not None:
            return False
        if not self._page:
            return True
        floor = self._floor
        return floor is not None and all((s := self._second(r)) is not None and s < floor for r in self._page)

    def finish(self) -> bool:
        """After the walk's last page: the count cross-check; True when every page was read to proof."""
        counted, read = self._count_first, self._emitted
        # A page of one second as large as any this walk got may have been cut by a cap on `limit`,
        # or held all there was (a walk of one interaction): only a count of exactly what was read
        # tells them apart; without it, the range is left for the next run.
        for second, only_type, held, capacity in [] if counted == read else self._cut:
            self.missed += 1
            kind = f"{only_type} " if only_type else ""
            self._observations.warn(
                f"crowded:{self._where}:{second}:{only_type}",
                "%s: at least %d %sinteractions start at %s, more than one page of %d can hold, and the API pages "
                "by whole seconds only; %s further %sinteractions of that second may have been missed; the next "
                "run reads this range again.",
                self._where, held, kind, second, capacity, self._upper_bound(), kind,
            )  # fmt: skip
        if counted is not None and counted > read:
            self.missed += 1
            self._observations.warn(
                f"count:{self._where}",
                "%s: the API counted %d interactions and the tap read %d, every page to the end; the bookmark "
                "stays before this range, so the next run reads it again.",
                self._where, counted, read,
            )  # fmt: skip
        elif counted is not None and counted < read:
            self._observations.note(
                "count-low:interactions",
                "%s: the API counted %d interactions and the tap read %d, every page to the end: its count is "
                "low (capped, lagging or per page), so the tap reads on to an empty page (said once).",
                self._where, counted, read,
            )  # fmt: skip
        return self.missed == 0

    def get_next(self, response: requests.Response) -> Cursor | None:
        following = self._following(response)
        if following is None or following.before is None:
            return following
        if self._lowest is None or following.before < self._lowest:
            self._lowest, self._stalled = following.before, 0
            return following
        self._stalled += 1
        if self._stalled <= self._stall_limit:
            return following
        self.missed += 1
        self._observations.warn(
            f"stalled:{self._where}",
            "%s: %d requests in a row got no older than second %s (the last page held %d interactions); the walk "
            "stops there and %s older interactions are left for the next run, which reads this range again.",
            self._where, self._stalled, _shift(self._lowest, -1), len(self._page), self._upper_bound(),
        )  # fmt: skip
        return None

    def _following(self, response: requests.Response) -> Cursor | None:  # noqa: ARG002
        """The next request of the walk; None when the page proved the walk complete."""
        cursor = self.current_value
        step = cursor.step + 1
        if self._redo_inclusive:  # the same request, the cursor sent one second earlier
            self._redo_inclusive = False
            return dataclasses.replace(cursor, inclusive=True, step=step)
        if self._redo:  # the same boundary, in the clock the server turned out to use
            self._redo = False
            before, self._expected = self._boundary(self._prev_page)
            return Cursor(before=before, limit=cursor.limit, step=step, inclusive=cursor.inclusive)
        if self._crowded is not None:
            return self._next_while_narrowing(cursor, step)
        before, boundary = self._boundary(self._page)
        if before is None:
            self.missed += 1
            self._observations.warn(
                f"no-start:{self._where}",
                "%s: a page of %d interactions had no readable %s; the walk cannot page past it and stops "
                "(%s further interactions may be missing; the next run reads this range again).",
                self._where, len(self._page), self._clock, self._upper_bound(),
            )  # fmt: skip
            return None
        oldest = _shift(before, -1)
        all_at_boundary = len(boundary) == len(self._page)
        if all_at_boundary and len(self._page) >= self._capacity:
            return self._crowded_second(cursor, oldest, boundary, step)
        if cursor.before is not None and before >= cursor.before:
            if all_at_boundary:  # only the boundary second came back: nothing is older
                return None
            msg = (
                f"Liine {self._where}: a page asked for interactions older than {cursor.before} held some from "
                f"{oldest}: the API does not honour pagination_timestamp, so paging cannot go on."
            )
            raise FatalAPIError(msg)
        self._prev_page, self._expected = self._page, boundary
        self._forget_newer_than(before)
        return Cursor(before=before, limit=cursor.limit, step=step, inclusive=cursor.inclusive)

    def _boundary(self, page: list[dict[str, t.Any]]) -> tuple[str | None, frozenset[t.Any]]:
        """The cursor that re-reads the page's oldest second, and the ids in that second."""
        seconds = [(r.get("id"), s) for r in page if (s := self._second(r)) is not None]
        if not seconds:
            return None, frozenset()
        oldest = min(s for _, s in seconds)
        return _shift(oldest, 1), frozenset(i for i, s in seconds if s == oldest and i is not None)

    def _crowded_second(self, cursor: Cursor, second: str, ids: frozenset[t.Any], step: int) -> Cursor:
        again = _shift(second, 1)
        self._prev_page, self._expected = self._page, ids
        if (cursor.limit or 0) < self._max_limit:
            return Cursor(before=again, limit=self._max_limit, step=step, inclusive=cursor.inclusive)
        if len(self._types) > 1:
            self._crowded, (first, *rest) = second, self._types
            self._pending_types = tuple(rest)
            self._expected = frozenset()
            return Cursor(before=again, limit=self._max_limit, only_type=first, step=step, inclusive=cursor.inclusive)
        self._possibly_cut(second, None)
        self._expected = frozenset()
        return Cursor(before=second, limit=cursor.limit, step=step, inclusive=cursor.inclusive)

    def _next_while_narrowing(self, cursor: Cursor, step: int) -> Cursor:
        second = t.cast("str", self._crowded)
        at_second = [r for r in self._page if self._second(r) == second]
        if self._page and len(at_second) == len(self._page) and len(self._page) >= self._capacity:
            self._possibly_cut(second, cursor.only_type)
        if self._pending_types:
            first, *rest = self._pending_types
            self._pending_types = tuple(rest)
            again = _shift(second, 1)
            return Cursor(before=again, limit=cursor.limit, only_type=first, step=step, inclusive=cursor.inclusive)
        # The crowded second is done: continue strictly older than it, every type again.
        self._crowded = None
        return Cursor(before=second, limit=cursor.limit, step=step, inclusive=cursor.inclusive)

    def _possibly_cut(self, second: str, only_type: str | None) -> None:
        """A full page of one second the walk cannot page past: judged when the walk ends (`finish`)."""
        self._cut.append((second, only_type, len(self._page), self._capacity))

    def _upper_bound(self) -> str:
        if self._count_first is not None and self._count_first > self._emitted:
            return f"at most {self._count_first - self._emitted}"
        return "an unknown number of"

    def _second(self, record: dict[str, t.Any]) -> str | None:
        return second_of(record.get(self._clock))

    def _forget_newer_than(self, before: str) -> None:
        """Ids whose every start is a day or more after the cursor cannot come back: forget them."""
        if len(self._seen) > _PRUNE_AT:
            horizon = _shift(before, 86400)
            self._seen = {key: s for key, s in self._seen.items() if not s or s < horizon}
