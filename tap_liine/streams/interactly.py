"""`appointment_statistics` and `appointment_trends`: Interactly's appointments dashboard as daily rows.

Both are partitioned by integration and appointment type ("all" when no type filter is
configured) and replicate by UTC `date`. An incremental run re-reads the last
`statistics_lookback_days` days, because dashboard figures change after the fact.

Statistics are asked for one UTC day at a time. The document does not say what a
`trends` entry's `_id` stands for (its sample is "2023-11-07T05:31:56Z"): a UTC day, a
practice's local day starting at its local midnight, or an instant. Whatever the bucket,
a trends row is the sum of the entries whose `_id` falls on one UTC day, and each window
asks two days more on either side so that a bucket starting on one of its days is
complete; buckets starting outside the window are left to the window they start in. A
practice's local day starts before its UTC day ends (e.g. at 04:00Z): the bucket starting on
the day before the first day read also holds appointments of that first day, so the first
window of a run emits it too (as a row for the day it starts on), or they would be in no row.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

import pendulum
from singer_sdk.exceptions import FatalAPIError

from tap_liine.bookmarks import Backfill
from tap_liine.errors import GaveUp, LoginError, api_message, json_type
from tap_liine.instants import parse_datetime
from tap_liine.observations import as_count
from tap_liine.pagination.interactly_lists import ListsPaginator, Weight, entry_count, trend_count
from tap_liine.schemas.interactly import STATISTICS, TRENDS
from tap_liine.streams.base import TapStream
from tap_liine.windows import Window, day_windows

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

ALL_TYPES = "all"
PAGE_SIZE = 300  # the API's default `size`; a server may send fewer, see ListsPaginator
BREAKDOWNS = ("source", "utm_source", "utm_medium", "utm_campaign")
UTC = dt.timezone.utc
TREND_MARGIN = dt.timedelta(days=2)  # a bucket (a local day, at most) starting in the window is complete
# How a 400 refusing the start..end range as too long may put it: a span, and too much of it.
SPAN = re.compile(r"\b(range|period|interval|span|window|days?)\b", re.I)
# A 404 about an integration ("Resource not found or doesn't belong to your organization"), not a wrong URL.
NOT_YOURS = re.compile(r"\bbelong", re.I)
URL_SETTING = "the setting `interactly_api_url` (the API's base URL, to which the tap adds /integrations/v2/...)"
TOO_LONG = re.compile(r"\b(too (long|large|wide|big|many)|exceed\w*|at most|max(imum)?)\b", re.I)


class RangeRefused(FatalAPIError):
    """A 400 refusing a request's start..end range as too long."""


def api_time(moment: dt.datetime) -> str:
    """A request timestamp in the documented form YYYY-MM-DDTHH:mm:ss.sssZ."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class InteractlyStream(TapStream):
    api_name = "Interactly"
    path = "/integrations/v2/resource-records/{integration_id}/appointments/statistics"
    primary_keys = ("integration_id", "appointment_type", "date")
    replication_key = "date"  # the last day read: days are read oldest first, a window at a time
    state_partitioning_keys = ("integration_id", "appointment_type")
    paged_lists: t.ClassVar[dict[str, Weight]] = {}
    margin = dt.timedelta(0)  # asked before and after each window
    empty_page: t.ClassVar[t.Any] = {"overview": {}}

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._first_day: dict[tuple[t.Any, ...], dt.date] = {}  # per partition: the first day this run reads

    @property
    def partitions(self) -> list[dict[str, t.Any]]:
        types = self.config.get("appointment_types") or [ALL_TYPES]
        return [
            {"integration_id": integration, "appointment_type": kind}
            for integration in self.config.get("interactly_integration_ids") or []
            for kind in types
        ]

    def get_new_paginator(self) -> ListsPaginator:
        self._local.paginator = ListsPaginator(
            self.paged_lists,
            where=f"{self.name}, {self.where()}",
            observations=self.observations,
            size=PAGE_SIZE,
        )
        return t.cast("ListsPaginator", self._local.paginator)

    def get_url_params(self, context: Context | None, next_page_token: int | None) -> dict[str, t.Any]:
        assert context is not None
        params: dict[str, t.Any] = {
            "size": PAGE_SIZE,
            "page": next_page_token or 1,
            "start": api_time(context["window_start"]),
            "end": api_time(context["window_end"]),
        }
        if context["appointment_type"] != ALL_TYPES:
            params["appointmentType"] = context["appointment_type"]
        return params

    def refusal(self, response: requests.Response, message: str) -> Exception:
        words = api_message(response)
        if response.status_code == 400 and SPAN.search(words) and TOO_LONG.search(words):
            return RangeRefused(message)
        if response.status_code in (401, 403):
            return LoginError(f"{message.rstrip('.')}. Check the setting `interactly_api_key`.")
        if response.status_code == 404 and NOT_YOURS.search(words):
            message = f"{message.rstrip('.')}. Check the setting `interactly_integration_ids`."
        elif response.status_code in (404, 405):  # no such path: the base URL is wrong
            message = f"{message.rstrip('.')}. Check {URL_SETTING}."
        return super().refusal(response, message)

    def check_credentials(self) -> None:
        """The API key has no login of its own: one request for an empty range (start = end) checks it."""
        integration = self.config["interactly_integration_ids"][0]
        moment = parse_datetime(self.config["start_date"])
        self._local.where = f"integration {integration}, checking the API key"
        try:
            list(self.request_records({**self.partitions[0], "window_start": moment, "window_end": moment}))
        except GaveUp as exc:  # a server down, or no such API there (a web page, a proxy's error)
            msg = f"{str(exc).rstrip('.')}. If the Interactly API is not there, check {URL_SETTING}."
            raise GaveUp(msg) from None

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
            backfill.begin(self.resources.run_started)
            first = backfill.resume_from(start)
        windows = day_windows(first, dt.datetime.now(UTC).date(), self.window_days)
        self._first_day[self.partition_key(context)] = first
        return windows

    def describe(self, context: Context, task: Window) -> str:
        days = f"{task.first}" + (f"..{task.last}" if task.last != task.first else "")
        return f"integration {context['integration_id']}, type {context['appointment_type']}, {days}"

    def fetch(self, context: Context, task: Window) -> t.Iterable[dict[str, t.Any]]:
        """The window's rows, asked for in parts of at most as many days as the API has accepted:
        a range refused as too long is halved until accepted, and that length kept for the run."""
        rows: list[dict[str, t.Any]] = []
        limit = (task.last - task.first).days + 1
        first = task.first
        while first <= task.last:
            limit = min(limit, self.observations.decided(self.range_key, limit))
            part = Window(first, min(task.last, first + dt.timedelta(days=limit - 1)))
            try:
                rows += self.rows_for(context, part)
            except RangeRefused as exc:
                days = (part.last - part.first).days + 1
                if days == 1:
                    msg = f"{exc}; the API refuses even one day's range, which the tap cannot shorten."
                    raise FatalAPIError(msg) from None
                limit = (days + 1) // 2
                self.observations.decide(self.range_key, min(limit, self.observations.decided(self.range_key, limit)))
                self.observations.note(
                    f"{self.range_key}:{limit}",
                    "%s: %s; asking for %d days at a time from now on.", self.name, exc, limit,
                )  # fmt: skip
                continue
            first = part.last + dt.timedelta(days=1)
        return rows

    @property
    def range_key(self) -> str:
        return f"{self.name}.longest_window_days"

    def task_done(self, context: Context, task: Window) -> None:
        """Days come oldest first and each window is read whole: its last day is the bookmark."""
        state = self.get_context_state(context)

        def window_read() -> None:
            backfill = Backfill(state)
            if backfill.in_progress:
                backfill.window_done(task)
            self.bookmarks.advance(state, self.day_start(task.last).isoformat())

        self.save_progress(window_read)

    def finish_partition(self, context: Context) -> None:
        state = self.get_context_state(context)

        def partition_read() -> None:
            Backfill(state).end()
            if not state.get("replication_key_value"):  # nothing left to read: today is done
                self.bookmarks.advance(state, self.day_start(dt.datetime.now(UTC).date()).isoformat())

        self.save_progress(partition_read)

    def bookmark(self, record: dict[str, t.Any], context: Context | None) -> None:
        """Bookmarks follow the windows read (task_done), not the rows emitted."""

    @property
    def window_days(self) -> int:
        return int(self.config.get("window_days", 30))

    def rows_for(self, context: Context, window: Window) -> list[dict[str, t.Any]]:
        raise NotImplementedError

    def pages(self, context: Context, window: Window) -> list[dict[str, t.Any]]:
        """Every page of the dashboard for these whole UTC days (and the margin around them)."""
        start = self.day_start(window.first) - self.margin
        end = self.day_start(window.last) + dt.timedelta(days=1, milliseconds=-1) + self.margin
        pages = list(self.request_records({**context, "window_start": start, "window_end": end}))
        for name, missing in self._local.paginator.shortfall().items():
            self.observations.note(
                f"shortfall:{self.name}:{name}",
                "%s: the %s list adds up to %d fewer appointments than the total (first seen in %s) although "
                "every page of it was read: the API leaves some appointments out of that list.",
                self.name, name, missing, self.where(),
            )  # fmt: skip
        return pages

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
    paged_lists: t.ClassVar[dict[str, Weight]] = dict.fromkeys(BREAKDOWNS, entry_count)

    @property
    def window_days(self) -> int:
        return 1  # the breakdowns are asked for day by day

    def rows_for(self, context: Context, window: Window) -> list[dict[str, t.Any]]:
        pages = self.pages(context, window)
        row = self.keys(context, window.first)
        row["total"] = pages[0]["overview"].get("total") if pages else 0
        for name in BREAKDOWNS:
            row[name] = [item for page in pages for item in page.get(name) or []]
        return self.conform([row])


class AppointmentTrendsStream(InteractlyStream):
    """One row per day of the `trends` list, from one request over the whole window."""

    name = "appointment_trends"
    schema = TRENDS
    paged_lists: t.ClassVar[dict[str, Weight]] = {"trends": trend_count}
    margin = TREND_MARGIN

    def rows_for(self, context: Context, window: Window) -> list[dict[str, t.Any]]:
        by_day: dict[dt.date, list[int]] = {}
        trends = [trend for page in self.pages(context, window) for trend in page.get("trends") or []]
        self._note_buckets(trends)
        first = window.first
        if window.first == self._first_day.get(self.partition_key(context)) and _local_days(trends):
            first -= dt.timedelta(days=1)  # the bucket starting the day before reaches into the first day
        for trend in trends:
            # One row per UTC day: the entries starting on that day are added up.
            day = self._day_of(trend)
            if day is not None and first <= day <= window.last:
                counts = by_day.setdefault(day, [0, 0])
                counts[0] += as_count(trend.get("successful")) or 0
                counts[1] += as_count(trend.get("failed")) or 0
        return [
            {**self.keys(context, day), "successful": successful, "failed": failed}
            for day, (successful, failed) in sorted(by_day.items())
        ]

    def _note_buckets(self, trends: list[dict[str, t.Any]]) -> None:
        """What the entries' `_id`s stand for, said once: UTC days, a practice's local days, or instants."""
        kind, times = _bucket_kind(trends)
        if kind == "instants":
            said = "instants (not days): rows add up the entries of each UTC day"
        elif kind == "utc-days":
            said = "UTC days"
        elif kind == "local-days":
            said = f"days starting at {' or '.join(sorted(times))} UTC, a practice's local midnight: rows are the "
            said += "UTC days on which those days start"
        else:
            return  # too few to tell
        self.observations.note(f"interactly.trend_id:{said[:12]}", "appointment_trends: trends entries are %s.", said)

    def _day_of(self, trend: dict[str, t.Any]) -> dt.date | None:
        try:
            return parse_datetime(str(trend.get("_id"))).astimezone(UTC).date()
        except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
            self.observations.warn(
                f"trend-id:{trend.get('_id')!r}",
                "%s: a trends entry's _id (a JSON %s) is no date-time; its appointments are not in any row.",
                self.name, json_type(trend.get("_id")),
            )  # fmt: skip
            return None


def _bucket_kind(trends: list[dict[str, t.Any]]) -> tuple[str | None, set[str]]:
    """ "instants", "utc-days" or "local-days" (None: too few entries to tell), and the entries' times of day."""
    times = {str(trend.get("_id"))[11:19] for trend in trends}
    if len(trends) < 3:
        return None, times
    if len(times) > 2 or "" in times:
        return "instants", times
    return ("utc-days" if times == {"00:00:00"} else "local-days"), times


def _local_days(trends: list[dict[str, t.Any]]) -> bool:
    return _bucket_kind(trends)[0] == "local-days"
