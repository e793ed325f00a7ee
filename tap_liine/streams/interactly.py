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

    def first_day(self, context: Context) -> dt.date:
        """start_date's day on a first run; else the bookmark's day less the lookback."""
        start = parse_datetime(self.config["start_date"]).astimezone(UTC).date()
        since = self.rewound_bookmark(context, "statistics_lookback_days")
        return start if since is None else max(start, since.astimezone(UTC).date())

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

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        if context is None:
            return
        day, today = self.first_day(context), dt.datetime.now(UTC).date()
        while day <= today:
            start = self.day_start(day)
            window = {**context, "window_start": start, "window_end": start + dt.timedelta(days=1, milliseconds=-1)}
            pages = list(self.request_records(window))
            row = self.keys(context, day)
            row["total"] = pages[0]["overview"].get("total") if pages else 0
            for name in BREAKDOWNS:
                row[name] = [item for page in pages for item in page.get(name) or []]
            yield row
            day += dt.timedelta(days=1)


class AppointmentTrendsStream(InteractlyStream):
    """One row per day of the `trends` list, from one request over the whole window."""

    name = "appointment_trends"
    schema = TRENDS
    paged_lists = ("trends",)

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        if context is None:
            return
        now = dt.datetime.now(UTC)
        window = {**context, "window_start": self.day_start(self.first_day(context)), "window_end": now}
        by_day: dict[dt.date, list[int]] = {}
        for page in self.request_records(window):
            for trend in page.get("trends") or []:
                # One row per UTC day: entries the API may split a day into are added up.
                counts = by_day.setdefault(parse_datetime(trend["_id"]).astimezone(UTC).date(), [0, 0])
                counts[0] += trend.get("successful") or 0
                counts[1] += trend.get("failed") or 0
        for day, (successful, failed) in sorted(by_day.items()):
            yield {**self.keys(context, day), "successful": successful, "failed": failed}
