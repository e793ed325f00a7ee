"""Simulated Liine call-log API (`api-docs/liine-interactions-api.md`).

Only a compact index (id, customer, start second, updated_at, type, spam flag) is held per
interaction, so a million of them fit in memory; the full ~87-field record is rebuilt
deterministically from the seed whenever it is served.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import random
import secrets
import threading
import time
import typing as t

import orjson

from tap_liine.sandbox.server import Request, Response, TokenExpired

UTC = dt.timezone.utc
TYPES = ("call", "form", "online_booking", "ehr_pms_entry")
TYPE_WEIGHTS = (70, 15, 10, 5)
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
DATE_FORMAT = "%Y-%m-%d"
CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Seeded data ends here, so that every run of the same seed serves the same records.
ANCHOR = dt.datetime(2026, 11, 1, tzinfo=UTC)

CHANNELS = ("Google Organic", "Google Ads", "Facebook", "Direct", "Referral", "Yelp", "Bing Ads")
LOCATIONS = ("Raleigh", "Durham", "Cary", "Chapel Hill", "Malta")
DIVISIONS = ("Plastic Surgery", "Dermatology", "Orthodontics", "General Dentistry", None)
CALL_TYPES = (
    "New Lead",
    "New Lead (Follow-Up)",
    "New Lead (First Form Follow-Up)",
    "Not A New Lead Call",
    "Voicemail",
    "Existing Patient / Previously Booked",
)
OUTCOMES = ("Booked", "Not Booked", "Booked Later", None)
REASONS = ("Price Objection", "Caller Procrastination", "Other", None)
NAMES = ("Ana García", "Brian O'Neil", "Chloé Dubois", "Dmitri Ivanov", "Eun-ji Park", "Fatima Zahra", "Gus 🦷 Smith")
INSURERS = ("Delta Dental", "Aetna", "Cigna", "MetLife", None)
PROVIDERS = ("Dr. Patel", "Dr. Nguyen", "Dr. Okafor", "Dr. Müller")
APPOINTMENT_STATUSES = ("Attended", "Canceled / No Show", "Future Dated", "Assumed No Show", "Unknown")


class BadRequest(Exception):
    """A malformed parameter: answered with 400 and the API's message."""


@dataclasses.dataclass
class Row:
    """What the index keeps of one interaction."""

    id: int
    customer_id: int
    start: int  # local wall-clock seconds since the epoch (start_time's reading)
    offset_h: int  # customer's UTC offset: start_time_tz = start - offset
    updated_us: int  # updated_at, microseconds since the epoch, UTC
    type: str
    spam: bool
    revision: int = 0  # bumped by the admin "touch" so that changed fields differ


class LiineApi:
    def __init__(
        self,
        *,
        customers: t.Sequence[int] = (101, 202, 303),
        scale: int = 10_000,
        seed: int = 42,
        days: int = 365,
        tie_rate: float = 0.15,
        tie_burst: int = 0,
        tie_burst_type: str | None = None,
        max_limit: int = MAX_LIMIT,
        envelope_timestamp: str = "last",
        username: str = "demo",
        password: str = "demo-password",  # noqa: S107 - the sandbox's published demo login
        token_lifetime: float = 3600.0,
        quirks: bool = False,
    ) -> None:
        self.customers = list(customers)
        # Values a lenient API might send: 0/1 and strings in boolean fields, fields the
        # document does not list, very large numbers (every 25th interaction).
        self.quirks = quirks
        self.seed = seed
        self.max_limit = max_limit
        # The document says both: "the start_time of the last (oldest) interaction on the
        # current page" and "the timestamp of the first interaction in the current page".
        self.envelope_timestamp = envelope_timestamp
        self.username = username
        self.password = password
        self.token_lifetime = token_lifetime
        self.tokens: dict[str, float] = {}
        self.logins = 0
        self._lock = threading.Lock()
        self._count_cache: dict[tuple, int] = {}
        self._encoded: dict[tuple[int, int], bytes] = {}
        self.by_customer: dict[int, list[Row]] = {}
        self._neg_starts: dict[int, list[int]] = {}
        self.by_id: dict[int, Row] = {}
        self._generate(scale, days, tie_rate, tie_burst, tie_burst_type)

    # ----- data -------------------------------------------------------------------

    def _generate(self, scale: int, days: int, tie_rate: float, tie_burst: int, burst_type: str | None) -> None:
        rng = random.Random(self.seed)
        per_customer = max(1, scale // len(self.customers))
        anchor = int(ANCHOR.timestamp())
        next_id = 1
        for position, customer in enumerate(self.customers):
            offset_h = -5 + (position % 3)  # practices in different US timezones
            n = per_customer + (scale - per_customer * len(self.customers) if position == 0 else 0)
            mean_gap = max(1, days * 86400 // max(1, n))
            start = anchor + offset_h * 3600 - rng.randint(0, 600)
            rows: list[Row] = []
            for i in range(n):
                if i and rng.random() >= tie_rate:
                    start -= rng.randint(1, 2 * mean_gap)
                if tie_burst and i == n // 2:
                    burst_at = start
                updated = start - offset_h * 3600 + rng.randint(60, 3 * 86400)  # may follow the anchor
                kind = rng.choices(TYPES, TYPE_WEIGHTS)[0]
                rows.append(
                    Row(
                        next_id,
                        customer,
                        start,
                        offset_h,
                        updated * 10**6 + rng.randint(0, 999_999),
                        kind,
                        rng.random() < 0.08,
                    )
                )
                next_id += 1
            if tie_burst:
                # One second in which more interactions start than a page can hold.
                for k in range(tie_burst):
                    kind = burst_type or TYPES[k % len(TYPES)]
                    rows.append(Row(next_id, customer, burst_at, offset_h, (anchor - 86400) * 10**6, kind, False))
                    next_id += 1
            rows.sort(key=lambda r: (-r.start, -r.id))
            self.by_customer[customer] = rows
            self._neg_starts[customer] = [-r.start for r in rows]
            self.by_id.update((r.id, r) for r in rows)

    def record(self, row: Row) -> dict[str, t.Any]:
        """The full interaction, as the API documents it."""
        rng = random.Random(row.id * 7919 + self.seed + row.revision * 104729)
        is_call = row.type == "call"
        start_local = dt.datetime.fromtimestamp(row.start, UTC)
        start_utc = start_local - dt.timedelta(hours=row.offset_h)
        outcome = rng.choice(OUTCOMES)
        has_appt = outcome in {"Booked", "Booked Later"}

        def touch(prefix: str) -> dict[str, t.Any]:
            channel = rng.choice(CHANNELS)
            tagged = channel in {"Google Ads", "Facebook", "Bing Ads"}
            return {
                f"{prefix}_marketing_channel": channel,
                f"{prefix}_location": rng.choice(LOCATIONS),
                f"{prefix}_division": rng.choice(DIVISIONS),
                f"{prefix}_keyword": rng.choice(("implants cost", "botox near me", None)),
                f"{prefix}_landing_url": f"https://practice.example/{rng.choice(('implants', 'botox', ''))}",
                f"{prefix}_referrer_url": rng.choice(("https://www.google.com/", None)),
                f"{prefix}_utm_source": rng.choice(("google", "facebook")) if tagged else None,
                f"{prefix}_utm_medium": "cpc" if tagged else None,
                f"{prefix}_utm_campaign": rng.choice(("spring_promo", "implants-q3", "Ünïcode ✓")) if tagged else None,
                f"{prefix}_utm_content": rng.choice(("ad_a", "ad_b", None)),
                f"{prefix}_session_extras": {"gclid": f"G{rng.randint(10**8, 10**9)}", "pages": rng.randint(1, 9)}
                if rng.random() < 0.5
                else None,
            }

        record: dict[str, t.Any] = {
            "analyze_complete": rng.choice((True, False, None)) if is_call else None,
            "customer_id": row.customer_id,
            "duration": rng.randint(5, 1800) if is_call else None,
            "messaging_utilization": round(rng.uniform(0, 100), 2) if is_call and rng.random() < 0.5 else None,
            "lead_id": str(20_000_000 + row.id // 3),
            "call_id": f"{rng.getrandbits(128):032x}",
            "interaction_type": row.type,
            "direction": rng.choice(("inbound", "outbound")) if is_call else "inbound",
            "phone_number": rng.choice((f"1919{rng.randint(1_000_000, 9_999_999)}", "Unknown")),
            "status": rng.choice(("Connected", "Not Connected", "Error", "Busy")) if is_call else None,
            "session_guid": f"{rng.getrandbits(128):032x}",
            "attribution_session_guid": f"{rng.getrandbits(128):032x}" if rng.random() < 0.3 else None,
            **touch("initial"),
            **touch("last_touch"),
            "call_type": rng.choice(CALL_TYPES),
            "call_complete": rng.choice((True, False, None)),
            "call_status": rng.choice(("Connected", "Not Connected", "Busy", "Analyzing")),
            "agent": rng.choice(("Maria", "Jamal", None)),
            "agent_id": rng.choice((11, 12, None)),
            "agent_location_name": rng.choice(("Maria - Raleigh", None)),
            "outcome": outcome,
            "booked_later_interaction_id": row.id + rng.randint(1, 50) if outcome == "Booked Later" else None,
            "reason_not_booked": rng.choice(REASONS) if outcome == "Not Booked" else None,
            "is_booked_later": outcome == "Booked Later",
            "intent_level": rng.choice(("3rd Party", "Not 3rd Party", "UNDECIDED", None)),
            "name": rng.choice(NAMES),
            "city": rng.choice(("Raleigh", "Durham", None)),
            "state": rng.choice(("NC", None)),
            "email": rng.choice(("lead@example.com", None)),
            "has_audio": is_call and rng.random() < 0.9,
            "voicemail": rng.random() < 0.1 if is_call else False,
            "first_time_interaction": rng.random() < 0.4,
            "is_analyzed": rng.random() < 0.9,
            "is_new": rng.choice((True, False, None)),
            "is_existing_patient": rng.choice((True, False, None)),
            "show_messaging": rng.choice((True, False, None)),
            "review_complete": rng.choice((True, False, None)),
            **{f"messaging_skill_{k}": rng.choice((True, False, None)) for k in range(1, 8)},
            "tracking_number": f"1984{rng.randint(1_000_000, 9_999_999)}",
            "start_time": start_local.strftime(CURSOR_FORMAT),
            "start_time_tz": start_utc.strftime(CURSOR_FORMAT),
            "updated_at": _format_updated(row.updated_us),
            "id": row.id,
            "manually_created": rng.random() < 0.02,
            "helper_cell": rng.random() < 0.2,
            "google_analytics_client_id": f"{rng.randint(10**9, 10**10)}.{rng.randint(10**9, 10**10)}"
            if rng.random() < 0.3
            else None,
            "related_form_submission_id": rng.randint(1, 10**6) if row.type == "form" else None,
            "form_submission_id": rng.randint(1, 10**6) if row.type == "form" else None,
            "is_spam_likely": row.spam,
            "spam_likely_reason": rng.choice(("No IVR selection was made", "Not enough caller audio"))
            if row.spam
            else None,
            "salient_interaction": f"{rng.getrandbits(128):032x}" if row.type == "form" else None,
            "sara_lead_id_reason": "EHR/PMS patient match" if row.type == "ehr_pms_entry" else None,
            "ehr_pms_patient_id": str(rng.randint(10**5, 10**6)) if has_appt else None,
            "primary_insurance_name": rng.choice(INSURERS) if has_appt else None,
            "provider_names": rng.sample(PROVIDERS, rng.randint(1, 2)) if has_appt else None,
            "appointment_location": rng.choice(LOCATIONS) if has_appt else None,
            "appointment_status": rng.choice(APPOINTMENT_STATUSES) if has_appt else None,
            # Revenue: cents-exact dollars, sometimes large.
            "revenue": rng.randint(0, 5_000_000) / 100 if has_appt else None,
        }
        if self.quirks and row.id % 25 == 0:
            record.update(
                is_new=1,
                has_audio=0,
                voicemail="no",
                revenue=98_765_432_109.87,
                duration=0.5,
                api_added_field={"nested": [1, 2.5, "ü", None, {"deep": True}], "big": 2**62},
            )
        return record

    # ----- HTTP ---------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, t.Callable[[Request], Response]]]:
        return [
            ("POST", "/call_log/authenticate/", self.authenticate),
            ("GET", "/call_log/interactions", self.interactions),
        ]

    def authenticate(self, request: Request) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            # The document's Python example posts form data, its curl example JSON.
            from urllib.parse import parse_qs

            body = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        if not body.get("username") or not body.get("password"):
            return Response.json(400, {"detail": "username and password are required."})
        if (body["username"], body["password"]) != (self.username, self.password):
            return Response.json(401, {"detail": "Unable to log in with provided credentials."})
        token = secrets.token_hex(24)
        expires = time.time() + self.token_lifetime
        with self._lock:
            self.tokens[token] = expires
            self.logins += 1
        valid_until = dt.datetime.fromtimestamp(expires, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return Response.json(200, {"token": f"bearer {token}", "valid_until": valid_until})

    def _check_token(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return Response.json(401, {"detail": "Authentication credentials were not provided."})
        expires = self.tokens.get(token)
        if expires is None or expires < time.time():
            return Response.json(401, {"detail": "Token is invalid or expired."})
        if request.revoke_token:
            self.tokens.pop(token, None)
            raise TokenExpired
        return None

    def interactions(self, request: Request) -> Response:
        denied = self._check_token(request)
        if denied:
            return denied
        try:
            query = _InteractionQuery.parse(request, self.max_limit)
        except BadRequest as exc:
            return Response.json(400, {"detail": str(exc)})
        rows = self._matching(query)
        count_key = query.count_key()
        count = self._count_cache.get(count_key)
        if count is None:
            count = sum(1 for _ in self._matching(dataclasses.replace(query, cursor=None)))
            self._count_cache[count_key] = count
        page: list[Row] = []
        for row in rows:
            if query.extra and not query.extra_match(self.record(row)):
                continue
            page.append(row)
            if len(page) >= query.limit:
                break
        edge = page[-1 if self.envelope_timestamp == "last" else 0] if page else None
        envelope = {
            "limit": query.limit,
            "count": count,
            "num_pages": -(-count // query.limit),
            "pagination_timestamp": _format_second(edge.start) if edge else None,
        }
        # Assembled from each record's cached JSON: the sandbox must never be what a benchmark measures.
        body = b'{"interactions":[' + b",".join(self.encoded(row) for row in page) + b"]," + orjson.dumps(envelope)[1:]
        return Response(200, body)

    def encoded(self, row: Row) -> bytes:
        """The record's JSON, built once per revision."""
        key = (row.id, row.revision)
        cached = self._encoded.get(key)
        if cached is None:
            cached = self._encoded[key] = orjson.dumps(self.record(row))
        return cached

    def _matching(self, query: _InteractionQuery) -> t.Iterator[Row]:
        """Rows matching the index-level filters, newest start_time first."""
        streams = []
        for customer in query.customers:
            rows = self.by_customer.get(customer, [])
            neg = self._neg_starts.get(customer, [])
            upper = query.cursor - 1 if query.cursor is not None else None  # strictly older
            if query.end is not None:
                upper = query.end if upper is None else min(upper, query.end)
            begin = 0 if upper is None else bisect.bisect_left(neg, -upper)
            streams.append(self._walk(rows, begin, query))
        if len(streams) == 1:
            return streams[0]
        import heapq

        return heapq.merge(*streams, key=lambda r: (-r.start, -r.id))

    @staticmethod
    def _walk(rows: list[Row], begin: int, query: _InteractionQuery) -> t.Iterator[Row]:
        for i in range(begin, len(rows)):
            row = rows[i]
            if query.start is not None and row.start < query.start:
                return
            if query.updated_us is not None and row.updated_us < query.updated_us:
                continue
            if row.spam and not query.include_spam:
                continue
            if query.types and row.type not in query.types:
                continue
            yield row

    # ----- admin (tests, demo) ----------------------------------------------------------

    def admin(self, name: str, request: Request) -> Response | None:
        if name == "liine/truth":
            rows = [r for c in self.customers for r in self.by_customer[c]]
            return Response.json(
                200,
                [
                    {
                        "id": r.id,
                        "customer_id": r.customer_id,
                        "start_time": dt.datetime.fromtimestamp(r.start, UTC).strftime(CURSOR_FORMAT),
                        "updated_at": _format_updated(r.updated_us),
                        "interaction_type": r.type,
                        "is_spam_likely": r.spam,
                    }
                    for r in rows
                ],
            )
        if name == "liine/record":
            row = self.by_id[int(request.one("id") or 0)]
            return Response.json(200, self.record(row))
        if name == "liine/touch" and request.method == "POST":
            # Change records now, as the practice's staff would: new values, new updated_at.
            ids = (request.json() or {}).get("ids", [])
            now_us = int(time.time() * 10**6)
            with self._lock:
                for i in ids:
                    row = self.by_id[int(i)]
                    self._encoded.pop((row.id, row.revision), None)
                    row.revision += 1
                    row.updated_us = now_us
                self._count_cache.clear()
            return Response.json(200, {"touched": ids, "updated_at": _format_updated(now_us)})
        if name == "liine/stats":
            return Response.json(200, {"logins": self.logins})
        return None


@dataclasses.dataclass
class _InteractionQuery:
    customers: list[int]
    limit: int
    start: int | None  # local seconds, inclusive
    end: int | None  # local seconds, inclusive
    updated_us: int | None
    cursor: int | None  # local seconds: only rows strictly older
    types: frozenset[str]
    include_spam: bool
    extra: dict[str, list[str]]

    @classmethod
    def parse(cls, request: Request, max_limit: int) -> _InteractionQuery:
        single = request.one("customer_id")
        raw_customers = request.many("customer_ids") or ([single] if single else [])
        if not raw_customers:
            raise BadRequest("customer_id is required unless customer_ids is specified.")
        try:
            customers = [int(c) for c in raw_customers]
        except ValueError:
            raise BadRequest(f"customer_id must be a number, got {raw_customers!r}.") from None
        limit_raw = request.one("limit")
        try:
            limit = DEFAULT_LIMIT if limit_raw is None else int(limit_raw)
        except ValueError:
            raise BadRequest("limit must be a number.") from None
        if limit < 1:
            raise BadRequest("limit must be a positive number.")
        types = frozenset(request.many("type"))
        if types - set(TYPES):
            raise BadRequest(f"type must be one of {', '.join(TYPES)}; got {sorted(types - set(TYPES))}.")
        start = _parse_day(request, "start_date")
        end = _parse_day(request, "end_date")
        updated = _parse_day(request, "updated_date")
        cursor = _parse_cursor(request)
        known_params = {
            "customer_id", "customer_ids", "customer_ids[]", "limit", "type", "type[]", "start_date",
            "end_date", "updated_date", "pagination_timestamp", "include_is_spam_likely",
        }  # fmt: skip
        extra = {k: v for k, v in request.query.items() if k not in known_params}
        for name, values in extra.items():
            if name.endswith(("_min", "_max")):
                try:
                    float(values[-1])
                except ValueError:
                    raise BadRequest(f"{name} must be a number, got {values[-1]!r}.") from None
        return cls(
            customers=customers,
            limit=min(limit, max_limit),
            start=start,
            end=None if end is None else end + 86399,
            updated_us=None if updated is None else updated * 10**6,
            cursor=cursor,
            types=types,
            include_spam="include_is_spam_likely" in request.query,
            extra=extra,
        )

    def count_key(self) -> tuple:
        return (
            tuple(self.customers), self.start, self.end, self.updated_us, tuple(sorted(self.types)),
            self.include_spam, tuple(sorted((k, tuple(v)) for k, v in self.extra.items())),
        )  # fmt: skip

    def extra_match(self, record: dict[str, t.Any]) -> bool:
        """Further documented filters: list filters on fields, *_min / *_max bounds."""
        for name, values in self.extra.items():
            if name.endswith(("_min", "_max")) and name[:-4] in record:
                value, bound = record[name[:-4]], float(values[-1])
                if value is None or (value < bound if name.endswith("_min") else value > bound):
                    return False
            elif name in record:
                wanted = {v for raw in values for v in raw.split(",")}
                value = record[name]
                shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
                if shown not in wanted:
                    return False
        return True


def _parse_day(request: Request, name: str) -> int | None:
    return _parse_moment(request, name, DATE_FORMAT, "YYYY-MM-DD")


def _parse_cursor(request: Request) -> int | None:
    return _parse_moment(request, "pagination_timestamp", CURSOR_FORMAT, "YYYY-MM-DDTHH:MM:SSZ")


def _parse_moment(request: Request, name: str, layout: str, shown: str) -> int | None:
    """A parameter in the document's exact format, as epoch seconds; a 400 otherwise."""
    raw = request.one(name)
    if raw is None:
        return None
    try:
        moment = dt.datetime.strptime(raw, layout).replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"{name}: Format must be {shown}, got {raw!r}.") from None
    return int(moment.timestamp())


def _format_second(local_seconds: int) -> str:
    return dt.datetime.fromtimestamp(local_seconds, UTC).strftime(CURSOR_FORMAT)


def _format_updated(us: int) -> str:
    moment = dt.datetime.fromtimestamp(us // 10**6, UTC).replace(microsecond=us % 10**6)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
