"""`interactions`: Liine's call log (calls, forms, online bookings, EHR/PMS entries)."""

from __future__ import annotations

import datetime as dt
import threading
import typing as t

from tap_liine.client import LiineBaseStream, parse_datetime
from tap_liine.pagination import Cursor, TieSafeCursorPaginator
from tap_liine.schemas.interactions import SCHEMA
from tap_liine.settings import INTERACTION_TYPES, MAX_PAGE_SIZE
from tap_liine.windows import Backfill, Window, day_windows

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context


class InteractionsStream(LiineBaseStream):
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
        self._local = threading.local()  # each request loop has its own paginator

    @property
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/")

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
        # First run, or a backfill a killed run left unfinished: windows, oldest first.
        backfill.begin(dt.datetime.now(dt.timezone.utc))
        last_day = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)  # local dates may run ahead of UTC
        first_day = backfill.resume_from(self._start_date())
        return list(day_windows(first_day, last_day, int(self.config.get("window_days", 30))))

    def fetch(self, context: Context, task: Window | None) -> t.Iterable[dict[str, t.Any]]:
        self._local.where = f"customer {context['customer_id']}" + (
            f", window {task.first}..{task.last}" if task else ""
        )
        return self.request_records({**context, "window": task} if task else context)

    def task_done(self, context: Context, task: Window | None) -> None:
        if task is not None:
            Backfill(self.get_context_state(context)).window_done(task)
            self.emit_state()

    def partition_done(self, context: Context) -> None:
        Backfill(self.get_context_state(context)).finish()

    def get_new_paginator(self) -> TieSafeCursorPaginator:
        paginator = TieSafeCursorPaginator(
            limit=int(self.config.get("page_size", MAX_PAGE_SIZE)),
            max_limit=MAX_PAGE_SIZE,
            types=self.types,
            where=f"{self.name}, {getattr(self._local, 'where', '')}",
        )
        self._local.paginator = paginator
        return paginator

    def get_url_params(self, context: Context | None, next_page_token: Cursor | None) -> dict[str, t.Any]:
        assert context is not None
        cursor = next_page_token or Cursor()
        params: dict[str, t.Any] = dict(self.config.get("interaction_filters") or {})
        params["customer_id"] = context["customer_id"]
        params["limit"] = cursor.limit or self.config.get("page_size", MAX_PAGE_SIZE)
        window = context.get("window")
        params["start_date"] = (window.first if window else self._start_date()).isoformat()
        if window:
            params["end_date"] = window.last.isoformat()
        updated_since = self.rewound_bookmark(context)
        if updated_since is not None:
            params["updated_date"] = updated_since.date().isoformat()
        if cursor.only_type:
            params["type"] = [cursor.only_type]
        elif self.config.get("interaction_types"):
            params["type"] = list(self.types)
        if self.config.get("include_spam", True):
            # The API counts this parameter when it is present at all, whatever its value.
            params["include_is_spam_likely"] = "true"
        if cursor.before:
            params["pagination_timestamp"] = cursor.before
        return params

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        body = self.decoded(response)
        records = body.get("interactions") if isinstance(body, dict) else None
        if not isinstance(records, list):
            from singer_sdk.exceptions import FatalAPIError

            msg = f"Liine {self.path} answered 200 without an `interactions` list."
            raise FatalAPIError(msg)
        fresh = self._local.paginator.accept(records, limit=body.get("limit"), count=body.get("count"))
        return self.conform(fresh)

    def _start_date(self) -> dt.date:
        return parse_datetime(self.config["start_date"]).date()
