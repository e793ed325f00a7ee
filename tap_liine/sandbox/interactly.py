"""Simulated Interactly appointments dashboard (`api-docs/interactly-*`).

Every figure is computed from one seeded list of appointments, so the overview, the
trends and the source/UTM breakdowns always agree with each other. What the document
leaves open (how `trends` entries are bucketed, whether `size` is honoured for every
list, numbers as strings) follows `readings` (see readings.py).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import random
import re
import typing as t
from http import HTTPStatus

import pendulum

from tap_liine.sandbox.liine_data import ANCHOR
from tap_liine.sandbox.readings import Readings
from tap_liine.sandbox.server import Request, Response

UTC = dt.timezone.utc
APPOINTMENT_TYPES = ("NP", "F/U", "ASC_FU", "FU Tele", "PROCEDURE", "PROV_USE", "RAP_ACCESS")
# 24 hexadecimal characters (the statistics document's examples) or a UUID v4 (the common topics').
INTEGRATION_ID = re.compile(r"^([0-9a-f]{24}|[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$")
# The request forms the common topics document accepts: milliseconds, and Z or an offset.
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$")
PREFIX = "/integrations/v2/resource-records/"
SUFFIX = "/appointments/statistics"
SOURCES = ("website", "phone", "google_business", "facebook", "referral")
UTM_SOURCES = ("google", "facebook", "bing", None)
UTM_MEDIUMS = ("cpc", "social", "email", None)
UTM_CAMPAIGNS = ("spring_promo", "implants-q3", "brand", None)
LISTS = ("trends", "source", "utm_source", "utm_medium", "utm_campaign")  # paged together
CAPPED_SIZE = 100  # `interactly.breakdown_size=capped-100`
PRACTICE_TIMEZONE = "America/New_York"  # `interactly.trend_id=local-midnight`


@dataclasses.dataclass(frozen=True)
class Appointment:
    at: dt.datetime
    type: str
    successful: bool
    source: str
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None


class InteractlyApi:
    def __init__(
        self,
        *,
        integrations: t.Sequence[str] = ("5eb7cf5a86d9755df3a6c593", "65a1b2c3d4e5f60718293a4b"),
        days: int = 120,
        per_day: int = 18,
        seed: int = 11,
        api_key: str = "demo-interactly-key",
        campaigns: int = 0,
        empty_integrations: t.Sequence[str] = (),
        ignore_page: bool = False,
        max_range_days: float | None = None,
        readings: t.Mapping[str, str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.max_range_days = max_range_days  # a server refusing longer start..end ranges with a 400
        self.ignore_page = ignore_page  # a broken server that always sends page 1
        self.readings = readings if isinstance(readings, Readings) else Readings(readings)
        # More distinct campaigns than a breakdown page holds, when asked for.
        campaign_values = tuple(f"campaign-{k:03d}" for k in range(campaigns)) if campaigns else UTM_CAMPAIGNS
        rng = random.Random(seed)
        self.appointments: dict[str, list[Appointment]] = {}
        first_day = ANCHOR - dt.timedelta(days=days)
        for integration in integrations:
            items = []
            for day in range(days + 1):
                start = first_day + dt.timedelta(days=day)
                for _ in range(rng.randint(0, per_day)):
                    items.append(
                        Appointment(
                            at=start + dt.timedelta(seconds=rng.randint(0, 86399)),
                            type=rng.choice(APPOINTMENT_TYPES),
                            successful=rng.random() < 0.8,
                            source=rng.choice(SOURCES),
                            utm_source=rng.choice(UTM_SOURCES),
                            utm_medium=rng.choice(UTM_MEDIUMS),
                            utm_campaign=rng.choice(campaign_values),
                        )
                    )
            items.sort(key=lambda a: a.at)
            self.appointments[integration] = items
        self.appointments.update({integration: [] for integration in empty_integrations})

    def routes(self) -> list[tuple[str, str, t.Callable[[Request], Response]]]:
        return [("GET", PREFIX, self.statistics)]

    def statistics(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Invalid or missing API key", "Unauthorized")
        integration = request.path.removeprefix(PREFIX).removesuffix(SUFFIX)
        if not request.path.endswith(SUFFIX) or "/" in integration:
            return _error(404, "Cannot GET " + request.path, "Not Found")
        problems = []
        if not INTEGRATION_ID.match(integration):
            problems.append({"field": "integration_id", "message": f"must match pattern {INTEGRATION_ID.pattern}"})
        kind = request.one("appointmentType")
        if kind is not None and kind not in APPOINTMENT_TYPES:
            problems.append({"field": "appointmentType", "message": f"must be one of {', '.join(APPOINTMENT_TYPES)}"})
        size, page = _number(request, "size", 300, problems), _number(request, "page", 1, problems)
        start, end = _moment(request, "start", problems), _moment(request, "end", problems)
        if problems:
            return Response.json(400, {"statusCode": 400, "message": "Validation failed", "errors": problems})
        if self.max_range_days and start and end and end - start > dt.timedelta(days=self.max_range_days):
            message = f"Date range too long: start and end may be at most {self.max_range_days:g} days apart"
            return _error(400, message, "Bad Request")
        if integration not in self.appointments:
            return _error(404, "Integration not found or doesn't belong to your organization", "Not Found")
        search = (request.one("search") or "").lower()
        chosen = [
            a
            for a in self.appointments[integration]
            if (kind is None or a.type == kind)
            and (start is None or a.at >= start)
            and (end is None or a.at <= end)
            and (not search or search in " ".join(str(v) for v in (a.source, a.utm_source, a.utm_campaign)).lower())
        ]
        if self.readings["interactly.breakdown_size"] == "capped-100":
            size = min(size, CAPPED_SIZE)
        if self.ignore_page:
            page = 1
        body = _dashboard(chosen, size, page, self.readings["interactly.trend_id"])
        refusal = self.readings["interactly.past_last_page"]
        if page > 1 and refusal != "empty" and not any(body[name] for name in LISTS):  # page 1 may be empty
            return Response.json(int(refusal), {"detail": "Invalid page."})
        if self.readings["interactly.numbers"] == "strings":
            body = _stringified(body)
        return Response.json(200, body)

    def error_body(self, status: int, message: str) -> dict[str, t.Any]:
        return {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}

    def admin(self, name: str, request: Request) -> Response | None:
        """`interactly/truth`: appointments per UTC day; `interactly/dashboard`: the whole dashboard
        (every list unpaged) for one integration and type, over all days or one UTC `day`."""
        if name not in {"interactly/truth", "interactly/dashboard"}:
            return None
        integration, kind = request.one("integration_id") or "", request.one("appointment_type")
        chosen = [a for a in self.appointments.get(integration, []) if kind in (None, "all") or a.type == kind]
        if name == "interactly/truth":
            return Response.json(200, collections.Counter(a.at.strftime("%Y-%m-%d") for a in chosen))
        day = request.one("day")
        if day:
            chosen = [a for a in chosen if a.at.strftime("%Y-%m-%d") == day]
        return Response.json(200, _dashboard(chosen, len(chosen) + 1, 1, self.readings["interactly.trend_id"]))


def _dashboard(chosen: list[Appointment], size: int, page: int, trend_id: str) -> dict[str, t.Any]:
    window = slice((page - 1) * size, page * size)
    trends: dict[str, list[int]] = {}
    for a in chosen:
        trends.setdefault(_trend_id(a.at, trend_id), [0, 0])[0 if a.successful else 1] += 1

    def breakdown(values: t.Iterable[str]) -> list[dict[str, t.Any]]:
        counts = collections.Counter(values)
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"_id": key, "count": count} for key, count in ordered][window]

    return {
        "overview": {"total": len(chosen)},
        "trends": [{"_id": day, "successful": s, "failed": f} for day, (s, f) in sorted(trends.items())][window],
        "source": breakdown(a.source for a in chosen),
        "utm_source": breakdown(a.utm_source or "direct" for a in chosen),
        "utm_medium": breakdown(a.utm_medium or "not set" for a in chosen),
        "utm_campaign": breakdown(a.utm_campaign or "not set" for a in chosen),
    }


def _trend_id(at: dt.datetime, reading: str) -> str:
    """The `_id` of the trends entry an appointment at `at` counts in."""
    if reading == "instant":
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    if reading == "local-midnight":
        local = pendulum.instance(at).in_timezone(PRACTICE_TIMEZONE).start_of("day")
        return local.in_timezone("UTC").strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return at.strftime("%Y-%m-%dT00:00:00.000Z")


def _stringified(value: t.Any) -> t.Any:
    """Counts as JSON strings, at any depth."""
    if isinstance(value, bool) or not isinstance(value, (int, dict, list)):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {k: _stringified(v) for k, v in value.items()}
    return [_stringified(v) for v in value]


def _number(request: Request, name: str, default: int, problems: list[dict[str, str]]) -> int:
    raw = request.one(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        value = 0
    if value < 1:
        problems.append({"field": name, "message": "must be an integer >= 1"})
    return value


def _moment(request: Request, name: str, problems: list[dict[str, str]]) -> dt.datetime | None:
    raw = request.one(name)
    if raw is None:
        return None
    raw = raw.replace(" ", "+")  # an offset's + sent unencoded
    try:
        parsed = pendulum.parse(raw) if TIMESTAMP.match(raw) else None
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        parsed = None
    if not isinstance(parsed, dt.datetime):
        problems.append({"field": name, "message": "must be an ISO 8601 date-time such as 2024-01-15T10:00:00.000Z"})
        return None
    return parsed


def _error(status: int, message: str, error: str) -> Response:
    return Response.json(status, {"statusCode": status, "message": message, "error": error})
