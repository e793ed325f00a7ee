"""`interactions`: Liine's call log (calls, forms, online bookings, EHR/PMS entries)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from singer_sdk.exceptions import FatalAPIError

from tap_liine.bookmarks import Backfill
from tap_liine.instants import parse_datetime
from tap_liine.pagination.liine_cursor import LOCAL, UTC_CLOCK, Cursor, TieSafeCursorPaginator
from tap_liine.schemas.interactions import SCHEMA
from tap_liine.settings import INTERACTION_TYPES, MAX_PAGE_SIZE, api_params
from tap_liine.streams.base import TapStream
from tap_liine.windows import Window, day_windows

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

ONE_DAY = dt.timedelta(days=1)


class InteractionsStream(TapStream):
    name = "interactions"
    api_name = "Liine"
    path = "/call_log/interactions/"
    primary_keys = ("id",)
    replication_key = "updated_at"
    is_sorted = False  # pages come newest start_time first; updated_at is in no order
    state_partitioning_keys = ("customer_id",)
    schema = SCHEMA

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._seam = WindowSeam()

    @property
    def partitions(self) -> list[dict[str, t.Any]]:
        return [{"customer_id": customer} for customer in self.config.get("customer_ids") or []]

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.config.get("interaction_types") or INTERACTION_TYPES)

    def plan(self, context: Context) -> list[Window | None]:
        state = self.get_context_state(context)
        backfill = Backfill(state)
        if state.get("replication_key_value") and not backfill.in_progress:
            return [None]  # incremental: one walk over everything updated since the bookmark
        # First run, or a backfill an earlier run left unfinished: windows, oldest first.
        backfill.begin(self.resources.run_started)
        last_day = dt.datetime.now(dt.timezone.utc).date() + ONE_DAY  # local dates may run ahead of UTC
        start = self._start_date()
        tasks: list[Window | None] = list(
            day_windows(backfill.resume_from(start), last_day, int(self.config.get("window_days", 30)))
        )
        done, began = backfill.done_through, backfill.started
        if done is not None and began is not None and done >= start:
            # Interactions created or changed in the finished windows after an earlier run read them
            # arrive now, not only in the first run after the backfill ends. A day early: the API's
            # day may be the practice's, behind UTC.
            since = began.astimezone(dt.timezone.utc).date() - ONE_DAY
            tasks.insert(0, CatchUp(start, min(done, last_day), since=since))
        return tasks

    def describe(self, context: Context, task: Window | None) -> str:
        where = f"customer {context['customer_id']}" + (f", window {task.first}..{task.last}" if task else "")
        return where + (f", updated since {task.since}" if isinstance(task, CatchUp) else "")

    def fetch(self, context: Context, task: Window | None) -> t.Iterable[dict[str, t.Any]]:
        self._local.first_day = task.first if task else self._start_date()
        return self.request_records({**context, "window": task} if task else context)

    def walk_finished(self) -> bool:
        return t.cast("TieSafeCursorPaginator", self._local.paginator).finish()

    def admit(self, context: Context, task: Window | None, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:  # noqa: ARG002
        return self._seam.admit(task, records)

    def task_done(self, context: Context, task: Window | None) -> None:
        self._seam.window_done(task)
        # A backfill's progress stops before its first window not read to proof: the next run resumes there.
        if task is not None and self.read_to_proof(context):
            backfill = Backfill(self.get_context_state(context))
            self.save_progress(lambda: backfill.window_done(task))

    def partition_done(self, context: Context) -> None:  # noqa: ARG002
        self._seam.reset()

    def get_new_paginator(self) -> TieSafeCursorPaginator:
        paginator = TieSafeCursorPaginator(
            limit=int(self.config.get("page_size", MAX_PAGE_SIZE)),
            max_limit=MAX_PAGE_SIZE,
            types=self.types,
            where=f"{self.name}, {self.where()}",
            observations=self.observations,
            first_day=getattr(self._local, "first_day", None),
        )
        self._local.paginator = paginator
        return paginator

    def get_url_params(self, context: Context | None, next_page_token: Cursor | None) -> dict[str, t.Any]:
        assert context is not None
        cursor = next_page_token or Cursor()
        params: dict[str, t.Any] = api_params(self.config.get("interaction_filters") or {})
        params["customer_id"] = context["customer_id"]
        params["limit"] = cursor.limit or self.config.get("page_size", MAX_PAGE_SIZE)
        window = context.get("window")
        params["start_date"] = (window.first if window else self._start_date()).isoformat()
        if window:
            # A day beyond the window: whether `end_date` covers its day or stops at its
            # midnight, the window's last day is read in full (the seam drops the overlap).
            params["end_date"] = (window.last + ONE_DAY).isoformat()
        rewound = self.rewound_bookmark(context)
        updated_day = window.since if isinstance(window, CatchUp) else rewound.date() if rewound else None
        if updated_day is not None:
            params["updated_date"] = updated_day.isoformat()
        if cursor.only_type:
            params["type"] = [cursor.only_type]
        elif self.config.get("interaction_types"):
            params["type"] = list(self.types)
        if self.config.get("include_spam", True):
            # The API counts this parameter when it is present at all, whatever its value.
            params["include_is_spam_likely"] = "true"
        if cursor.before:
            params["pagination_timestamp"] = cursor.sent
        return params

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        body = self.decoded(response)
        records = body.get("interactions") if isinstance(body, dict) else None
        if not isinstance(records, list):
            msg = f"Liine {self.path} answered 200 without an `interactions` list."
            raise FatalAPIError(msg)
        envelope = {key: value for key, value in body.items() if key != "interactions"}
        return self._local.paginator.accept(self.conform(records), envelope)

    def _start_date(self) -> dt.date:
        return parse_datetime(self.config["start_date"]).date()


@dataclasses.dataclass(frozen=True)
class CatchUp(Window):
    """The windows a resumed backfill finished in earlier runs: only what was updated since it began."""

    since: dt.date


class WindowSeam:
    """Consecutive windows overlap by a day; an interaction read by both is emitted once.

    Each window asks `end_date` a day after its last day, so that its last day is read in
    full under either reading of `end_date` and in either clock the API may filter days
    with. Interactions that can fall in that extra day are remembered (a day's worth, not
    the window's) and dropped when the next window brings them again; interactions older
    than a window in both clocks (a server ignoring `start_date`) are an older window's and
    dropped too. Main thread only.
    """

    def __init__(self) -> None:
        self._previous: set[t.Any] = set()  # ids the next window may bring again
        self._current: set[t.Any] = set()

    def admit(self, window: Window | None, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        if window is None:
            return records
        first, overlap = window.first.isoformat(), (window.last + ONE_DAY).isoformat()
        admitted = []
        for record in records:
            days = [value[:10] for value in (record.get(LOCAL), record.get(UTC_CLOCK)) if isinstance(value, str)]
            # Older than the window in both clocks: an older window's (a server ignoring start_date sends them).
            if (days and max(days) < first) or record.get("id") in self._previous:
                continue
            if not days or max(days) >= overlap:
                self._current.add(record.get("id"))
            admitted.append(record)
        return admitted

    def window_done(self, window: Window | None) -> None:
        self._previous, self._current = (self._current, set()) if window else (set(), set())

    def reset(self) -> None:
        self._previous, self._current = set(), set()
