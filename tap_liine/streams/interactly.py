"""`appointment_statistics` and `appointment_trends`: Interactly's appointments dashboard as daily rows.

Both are partitioned by integration and appointment type ("all" when no type filter is
configured) and replicate by UTC `date`. An incremental run re-reads the last
`statistics_lookback_days` days, because dashboard figures change after the fact.
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t

from singer_sdk.exceptions import FatalAPIError

from tap_liine.client import LiineBaseStream, parse_datetime
from tap_liine.pagination import ListPagesPaginator
from tap_liine.schemas.interactly import STATISTICS, TRENDS
from tap_liine.windows import Backfill, Window, day_windows

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

ALL_TYPES = "all"
PAGE_SIZE = 300  # the API's default `size`
BREAKDOWNS = ("source", "utm_source", "utm_medium", "utm_campaign")
UTC = dt.timezone.utc


class InteractlyStream(LiineBaseStream):
    api_name = "Interactly"
    path = "/integrations/v2/resource-records/{integration_id}/appointments/statistics"
    primary_keys = ("integration_id", "appointment_type", "date")
    replication_key = "date"
    # Days are emitted oldest first, so the bookmark can follow them; the lookback re-reads
    # days before the saved bookmark on purpose, hence no sort check.
    is_sorted = True
    check_sorted = False
    state_partitioning_keys = ("integration_id", "appointment_type")
    paged_lists: tuple[str, ...] = ()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()

    @property
    def url_base(self) -> str:
        return str(self.config["interactly_api_url"]).rstrip("/")

    @property
    def partitions(self) -> list[dict[str, t.Any]]:
        types = self.config.get("appointment_types") or [ALL_TYPES]
        return [
            {"integration_id": integration, "appointment_type": kind}
            for integration in self.config.get("interactly_integration_ids") or []
            for kind in types
        ]

    def get_new_paginator(self) -> ListPagesPaginator:
        self._local.paginator = ListPagesPaginator(PAGE_SIZE, self.paged_lists)
        return t.cast("ListPagesPaginator", self._local.paginator)

    def get_url_params(self, context: Context | None, next_page_token: int | None) -> dict[str, t.Any]:
        assert context is not None
        params: dict[str, t.Any] = {
            "size": PAGE_SIZE,
            "page": next_page_token or 1,
            "start": context["window_start"].isoformat(),
            "end": context["window_end"].isoformat(),
        }
        if context["appointment_type"] != ALL_TYPES:
            params["appointmentType"] = context["appointment_type"]
        return params

    def check_envelope(self, body: t.Any, where: str) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("overview"), dict):
            msg = f"{where} answered without the documented `overview` object."
            raise FatalAPIError(msg)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        body = self.decoded(response)
        self._local.paginator.accept(body)
        yield body

    def plan(self, context: Context) -> list[Window]:
        """Windows oldest first. A first run (or one a killed run left unfinished) resumes
        after the last window done; later runs start `statistics_lookback_days` before the bookmark."""
        state = self.get_context_state(context)
        backfill = Backfill(state)
        start = parse_datetime(self.config["start_date"]).astimezone(UTC).date()
        if state.get("replication_key_value") and not backfill.in_progress:
            since = self.rewound_bookmark(context, "statistics_lookback_days")
            first = max(start, since.astimezone(UTC).date()) if since else start
        else:
            backfill.begin(dt.datetime.now(UTC))
            first = backfill.resume_from(start)
        return day_windows(first, dt.datetime.now(UTC).date(), self.window_days)

    def fetch(self, context: Context, task: Window) -> t.Iterable[dict[str, t.Any]]:
        return self.rows_for(context, task)

    def task_done(self, context: Context, task: Window) -> None:
        backfill = Backfill(self.get_context_state(context))
        if backfill.in_progress:
            backfill.window_done(task)
        self.emit_state()

    def partition_done(self, context: Context) -> None:
        Backfill(self.get_context_state(context)).finish()

    @property
    def window_days(self) -> int:
        return int(self.config.get("window_days", 30))

    def rows_for(self, context: Context, window: Window) -> list[dict[str, t.Any]]:
        raise NotImplementedError

    def pages(self, context: Context, window: Window) -> list[dict[str, t.Any]]:
        """Every page of the dashboard for these whole UTC days."""
        start = self.day_start(window.first)
        end = self.day_start(window.last) + dt.timedelta(days=1, milliseconds=-1)
        return list(self.request_records({**context, "window_start": start, "window_end": end}))

    @staticmethod
    def day_start(day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)

    def keys(self, context: Context, day: dt.date) -> dict[str, t.Any]:
        return {
            "integration_id": context["integration_id"],
            "appointment_type": context["appointment_type"],
            "date": self.day_start(day).isoformat(),
        }


class AppointmentStatisticsStream(InteractlyStream):
    """One row per day: that day's total and source/UTM breakdowns, asked for day by day."""

    name = "appointment_statistics"
    schema = STATISTICS
    paged_lists = BREAKDOWNS

    @property
    def window_days(self) -> int:
        return 1  # the breakdowns are asked for day by day

    def rows_for(self, context: Context, window: Window) -> list[dict[str, t.Any]]:
        pages = self.pages(context, window)
        row = self.keys(context, window.first)
        row["total"] = pages[0]["overview"].get("total") if pages else 0
        for name in BREAKDOWNS:
            row[name] = [item for page in pages for item in page.get(name) or []]
        return [row]


class AppointmentTrendsStream(InteractlyStream):
    """One row per day of the `trends` list, from one request over the whole window."""

    name = "appointment_trends"
    schema = TRENDS
    paged_lists = ("trends",)

    def rows_for(self, context: Context, window: Window) -> list[dict[str, t.Any]]:
        by_day: dict[dt.date, list[int]] = {}
        for page in self.pages(context, window):
            for trend in page.get("trends") or []:
                # One row per UTC day: entries the API may split a day into are added up.
                counts = by_day.setdefault(parse_datetime(trend["_id"]).astimezone(UTC).date(), [0, 0])
                counts[0] += trend.get("successful") or 0
                counts[1] += trend.get("failed") or 0
        return [
            {**self.keys(context, day), "successful": successful, "failed": failed}
            for day, (successful, failed) in sorted(by_day.items())
        ]
