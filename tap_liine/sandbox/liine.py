"""Simulated Liine call-log API (`api-docs/liine-interactions-api.md`), in any of its readings.

`POST /call_log/authenticate/` trades username and password for a `bearer ...` token;
`GET /call_log/interactions/` filters, orders newest start first and pages with
`pagination_timestamp`, answering each open question of the document as `readings` says
(see readings.py): which clock the cursor and day filters use, whether `end_date` covers
its day, whether `limit` is honoured, what `count` counts, numbers as strings.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import datetime as dt
import heapq
import secrets
import threading
import time
import typing as t
from urllib.parse import parse_qs

import orjson

from tap_liine.sandbox import liine_data
from tap_liine.sandbox.liine_data import TYPES, UTC, Generation, Row, format_second, format_updated
from tap_liine.sandbox.readings import Readings, reported_count
from tap_liine.sandbox.server import ENCODER, ChangesLater, Request, Response, TokenExpired

MAX_LIMIT = 1000
CAPPED_LIMIT = 300  # the `liine.limit=capped*` readings
DEFAULT_LIMIT = 100
DATE_FORMAT = "%Y-%m-%d"


class BadRequest(Exception):
    """A malformed parameter: answered with 400 and the API's message."""


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
        username: str = "demo",
        password: str = "demo-password",  # noqa: S107 - the sandbox's published demo login
        token_lifetime: float = 3600.0,
        valid_until_shift: float = 0.0,
        quirks: bool = False,
        odd_values: bool = False,
        mistyped: bool = False,
        planted: bool = False,
        empty_customers: t.Sequence[int] = (),
        readings: t.Mapping[str, str] | None = None,
        stuck_at_crowded: bool = False,
        ignores_day_filters: bool = False,
    ) -> None:
        # Broken servers, to prove every walk ends: one that answers any pagination_timestamp within a
        # second of a customer's most crowded second from that second again; one that ignores start_date
        # and updated_date, serving older interactions too.
        self.stuck_at_crowded = stuck_at_crowded
        self.ignores_day_filters = ignores_day_filters
        self.customers = list(customers) + list(empty_customers)
        self.seed = seed
        self.readings = readings if isinstance(readings, Readings) else Readings(readings)
        capped = self.readings["liine.limit"] != "honoured"
        self.max_limit = min(max_limit, CAPPED_LIMIT) if capped else max_limit
        self.quirks = quirks  # see liine_data.quirky
        self.odd_values = odd_values  # see liine_data.odd
        self.mistyped = mistyped  # see liine_data.mistyped
        self.planted = planted  # see liine_data.planted
        self.username = username
        self.password = password
        self.token_lifetime = token_lifetime
        # Added to the valid_until written (not to the real expiry): e.g. -18000 writes the
        # expiry as a naive New York time read as UTC, five hours in the past.
        self.valid_until_shift = valid_until_shift
        self.tokens: dict[str, float] = {}
        self.logins = 0
        self._lock = threading.Lock()
        self._count_cache: dict[tuple[t.Any, ...], int] = {}
        self._encoded: dict[tuple[int, int], bytes] = {}
        spec = Generation(tuple(customers), scale, seed, days, tie_rate, tie_burst, tie_burst_type)
        self.by_customer = liine_data.generate(spec)
        self.by_customer.update({customer: [] for customer in empty_customers})
        self._later = ChangesLater(self.touch)  # `liine/touch-later`
        self._create_later = ChangesLater(self.create)  # `liine/create-later`
        self.created: list[int] = []  # ids of interactions created after the data was seeded
        self._neg_starts = {c: [-r.start for r in rows] for c, rows in self.by_customer.items()}
        self.by_id: dict[int, Row] = {r.id: r for rows in self.by_customer.values() for r in rows}
        self._crowded = {  # each customer's most crowded second (local clock)
            c: collections.Counter(r.start for r in rows).most_common(1)[0][0]
            for c, rows in self.by_customer.items()
            if rows
        }

    def record(self, row: Row) -> dict[str, t.Any]:
        """The full interaction as this API serves it."""
        record = liine_data.full_record(row, self.seed)
        if self.quirks:
            record = liine_data.quirky(record, row)
        if self.odd_values:
            record = liine_data.odd(record, row)
        if self.mistyped:
            record = liine_data.mistyped(record, row)
        if self.readings["liine.precision"] == "beyond-double":
            record = liine_data.beyond_double(record, row)
        if self.planted:
            record = liine_data.planted(record, row)
        if self.readings["liine.numbers"] == "strings":
            record = {key: liine_data.as_strings(value) for key, value in record.items()}
        if self.readings["liine.start_time"] == "millis":
            for key in ("start_time", "start_time_tz"):
                if isinstance(record.get(key), str):
                    record[key] = record[key].removesuffix("Z") + ".000Z"
        return record

    def encoded(self, row: Row) -> bytes:
        """The record's JSON, built once per revision."""
        key = (row.id, row.revision)
        cached = self._encoded.get(key)
        if cached is None:
            cached = ENCODER.encode(self.record(row))
            if self.odd_values:  # what a Python back end writes for float('nan'), which JSON does not allow
                cached = cached.replace(b'"' + liine_data.NAN_MARK.encode() + b'"', b"NaN")
            self._encoded[key] = cached
        return cached

    # ----- HTTP ---------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, t.Callable[[Request], Response]]]:
        return [
            ("POST", "/call_log/authenticate/", self.authenticate),
            ("GET", "/call_log/interactions", self.interactions),
        ]

    def error_body(self, status: int, message: str) -> dict[str, t.Any]:  # noqa: ARG002
        return {"detail": message}

    def authenticate(self, request: Request) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            # The document's Python example posts form data, its curl example JSON.
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
        valid_until = (
            dt.datetime.fromtimestamp(expires + self.valid_until_shift, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        return Response.json(200, {"token": f"bearer {token}", "valid_until": valid_until})

    def _check_token(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
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
        self._later.request_arrived()
        self._create_later.request_arrived()
        try:
            query = _InteractionQuery.parse(request, self.readings)
        except BadRequest as exc:
            return Response.json(400, {"detail": str(exc)})
        forbidden = [c for c in query.customers if c not in self.by_customer]
        if forbidden:
            return Response.json(403, {"detail": f"You do not have permission to access customer {forbidden[0]}."})
        query = self._broken(query)
        limit = min(query.limit, self.max_limit)
        page: list[Row] = []
        for row in self._matching(query):
            if query.extra and not query.extra_match(self.record(row)):
                continue
            page.append(row)
            if len(page) >= limit:
                break
        matching = self._count(query)
        count = reported_count(self.readings["liine.count"], matching, len(page))
        edge = page[-1 if self.readings["liine.pagination_timestamp"] == "last" else 0] if page else None
        envelope: dict[str, t.Any] = {
            "limit": limit if self.readings["liine.limit"] != "capped-echoed" else query.limit,
            "count": count,
            "num_pages": -(-(count or 0) // limit),
            "pagination_timestamp": format_second(self._clock(edge)) if edge else None,
        }
        if count is None:
            del envelope["count"], envelope["num_pages"]
        if self.readings["liine.numbers"] == "strings":
            envelope = {key: liine_data.as_strings(value) for key, value in envelope.items()}
        # Assembled from each record's cached JSON: the sandbox must never be what a benchmark measures.
        body = b'{"interactions":[' + b",".join(self.encoded(row) for row in page) + b"]," + orjson.dumps(envelope)[1:]
        return Response(200, body)

    def _broken(self, query: _InteractionQuery) -> _InteractionQuery:
        """The query as a broken server (`stuck_at_crowded`, `ignores_day_filters`) reads it."""
        if self.ignores_day_filters:
            query = dataclasses.replace(query, start=None, updated_us=None)
        crowded = self._crowded.get(query.customers[0]) if self.stuck_at_crowded and query.customers else None
        if crowded is not None and query.cursor is not None and crowded - 1 <= query.cursor <= crowded + 1:
            query = dataclasses.replace(query, cursor=crowded + 1)  # the local clock's second (default reading)
        return query

    def expected_ids(self, customers: t.Iterable[int], start_date: dt.date, *, include_spam: bool = True) -> list[int]:
        """Ids a complete extraction from `start_date` must emit, in this reading of the API."""
        start = int(dt.datetime(start_date.year, start_date.month, start_date.day, tzinfo=UTC).timestamp())
        query = _InteractionQuery(list(customers), MAX_LIMIT, start, None, None, None, frozenset(), include_spam, {})
        return sorted(r.id for r in self._matching(query))

    def touch(self, ids: t.Iterable[int]) -> int:
        """Change records now, as the practice's staff would: new values, new updated_at."""
        now_us = int(time.time() * 10**6)
        with self._lock:
            for i in ids:
                row = self.by_id[int(i)]
                self._encoded.pop((row.id, row.revision), None)
                row.revision += 1
                row.updated_us = now_us
            self._count_cache.clear()
        return now_us

    def create(self, places: t.Iterable[int]) -> list[int]:
        """New interactions, updated now, as calls keep coming in: for each place 0, one that
        starts now (the head of the newest-first list); for place k > 0, a late-arriving one
        back-dated into the k-th interaction's second (modulo), among pages a walk may have read."""
        now = time.time()
        made = []
        with self._lock:
            for place in places:
                customer = self.customers[place % len(self.customers)]
                rows = self.by_customer[customer]
                offset_h = rows[0].offset_h if rows else 0
                start = int(now) + offset_h * 3600 if place == 0 or not rows else rows[place % len(rows)].start
                new_id = max(self.by_id, default=0) + 1
                row = Row(new_id, customer, start, offset_h, int(now * 10**6), TYPES[new_id % len(TYPES)], False)
                # Copies, swapped in whole: a request in another thread keeps the list it began with.
                at = bisect.bisect_left([(-r.start, -r.id) for r in rows], (-row.start, -row.id))
                self.by_customer[customer] = [*rows[:at], row, *rows[at:]]
                self._neg_starts[customer] = [-r.start for r in self.by_customer[customer]]
                self.by_id[new_id] = row
                self.created.append(new_id)
                made.append(new_id)
            self._count_cache.clear()
        return made

    def _clock(self, row: Row) -> int:
        """The row's start in the clock the API compares cursors and days with."""
        return row.start_utc if self.readings["liine.cursor_clock"] == "utc" else row.start

    def _count(self, query: _InteractionQuery) -> int:
        if self.readings["liine.count"] != "after-cursor":
            query = dataclasses.replace(query, cursor=None)
        key = query.count_key()
        count = self._count_cache.get(key)
        if count is None:
            matching = (r for r in self._matching(query) if not query.extra or query.extra_match(self.record(r)))
            count = self._count_cache[key] = sum(1 for _ in matching)
        return count

    def _matching(self, query: _InteractionQuery) -> t.Iterator[Row]:
        """Rows matching the index-level filters, newest start first."""
        walks = []
        for customer in query.customers:
            with self._lock:  # the rows and their index as one snapshot (`create` swaps both)
                rows, neg_starts = self.by_customer.get(customer, []), self._neg_starts.get(customer, [])
            # The API's clock is local or UTC; the index is ordered by local start.
            shift = rows[0].offset_h * 3600 if rows and self.readings["liine.cursor_clock"] == "utc" else 0
            # Strictly older than the cursor, or (`liine.cursor=inclusive`) at or older.
            inclusive = self.readings["liine.cursor"] == "inclusive"
            upper = None if query.cursor is None else query.cursor - (0 if inclusive else 1)
            if query.end is not None:
                upper = query.end if upper is None else min(upper, query.end)
            begin = 0 if upper is None else bisect.bisect_left(neg_starts, -(upper + shift))
            lower = None if query.start is None else query.start + shift
            walks.append(self._walk(rows, begin, lower, query))
        if len(walks) == 1:
            return walks[0]
        return heapq.merge(*walks, key=lambda r: (-r.start, -r.id))

    @staticmethod
    def _walk(rows: list[Row], begin: int, lower: int | None, query: _InteractionQuery) -> t.Iterator[Row]:
        for i in range(begin, len(rows)):
            row = rows[i]
            if lower is not None and row.start < lower:
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
            return Response.json(200, [_truth(r) for r in rows])
        if name == "liine/expected":
            # What a complete extraction with these filters must emit, in this reading of the API.
            query = _InteractionQuery.parse(request, self.readings)
            return Response.json(200, sorted(r.id for r in self._matching(query)))
        if name == "liine/record":
            row = self.by_id[int(request.one("id") or 0)]
            return Response.json(200, self.record(row))
        if name == "liine/touch" and request.method == "POST":
            ids = (request.json() or {}).get("ids", [])
            return Response.json(200, {"touched": ids, "updated_at": format_updated(self.touch(ids))})
        if name == "liine/touch-later" and request.method == "POST":
            # {"ids": [...], "after": N}: touch them when the N+1-th interactions request from now arrives.
            spec = request.json() or {}
            self._later.plan(int(spec.get("after", 0)), list(spec.get("ids", [])))
            return Response.json(200, {"ok": True})
        if name == "liine/create-later" and request.method == "POST":
            # {"places": [...], "after": N}: create them (see `create`) when the N+1-th interactions request arrives.
            spec = request.json() or {}
            self._create_later.plan(int(spec.get("after", 0)), [int(p) for p in spec.get("places", [])])
            return Response.json(200, {"ok": True})
        if name == "liine/created":
            return Response.json(200, self.created)
        if name == "liine/stats":
            return Response.json(200, {"logins": self.logins})
        return None


def _truth(row: Row) -> dict[str, t.Any]:
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "start_time": format_second(row.start),
        "start_time_tz": format_second(row.start_utc),
        "updated_at": format_updated(row.updated_us),
        "interaction_type": row.type,
        "is_spam_likely": row.spam,
    }


@dataclasses.dataclass
class _InteractionQuery:
    customers: list[int]
    limit: int  # as requested
    start: int | None  # seconds in the API's clock, inclusive
    end: int | None  # seconds in the API's clock, inclusive
    updated_us: int | None
    cursor: int | None  # seconds in the API's clock: only rows strictly older
    types: frozenset[str]
    include_spam: bool
    extra: dict[str, list[str]]

    KNOWN: t.ClassVar[set[str]] = {
        "customer_id", "customer_ids", "customer_ids[]", "limit", "type", "type[]", "start_date",
        "end_date", "updated_date", "pagination_timestamp", "include_is_spam_likely",
    }  # fmt: skip

    @classmethod
    def parse(cls, request: Request, readings: t.Mapping[str, str]) -> _InteractionQuery:
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
        end = _parse_moment(request, "end_date", DATE_FORMAT, "YYYY-MM-DD")
        updated = _parse_moment(request, "updated_date", DATE_FORMAT, "YYYY-MM-DD")
        extra = {k: v for k, v in request.query.items() if k not in cls.KNOWN}
        for name, values in extra.items():
            if name.endswith(("_min", "_max")):
                try:
                    float(values[-1])
                except ValueError:
                    raise BadRequest(f"{name} must be a number, got {values[-1]!r}.") from None
        return cls(
            customers=customers,
            limit=limit,
            start=_parse_moment(request, "start_date", DATE_FORMAT, "YYYY-MM-DD"),
            end=None if end is None else end + (86399 if readings["liine.end_date"] == "whole-day" else 0),
            updated_us=None if updated is None else updated * 10**6,
            cursor=_parse_moment(request, "pagination_timestamp", liine_data.CURSOR_FORMAT, "YYYY-MM-DDTHH:MM:SSZ"),
            types=types,
            include_spam="include_is_spam_likely" in request.query,
            extra=extra,
        )

    def count_key(self) -> tuple[t.Any, ...]:
        return (
            tuple(self.customers), self.start, self.end, self.updated_us, self.cursor, tuple(sorted(self.types)),
            self.include_spam, tuple(sorted((k, tuple(v)) for k, v in self.extra.items())),
        )  # fmt: skip

    def extra_match(self, record: dict[str, t.Any]) -> bool:
        """Further documented filters: list filters on fields, *_min / *_max bounds."""
        for name, values in self.extra.items():
            if name.endswith(("_min", "_max")) and name[:-4] in record:
                value, bound = record[name[:-4]], float(values[-1])
                if value is None or (float(value) < bound if name.endswith("_min") else float(value) > bound):
                    return False
            elif name in record:
                wanted = {v for raw in values for v in raw.split(",")}
                value = record[name]
                shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
                if shown not in wanted:
                    return False
        return True


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
