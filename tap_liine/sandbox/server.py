"""A small threaded HTTP server that hosts the simulated APIs, with faults on demand.

Each simulated API contributes routes (method, path prefix) -> handler. The server adds
what every API shares: latency, the fault schedule, and a `/_sandbox/` admin surface
that tests use to read the ground truth and to change records between runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import socket
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import msgspec
import orjson

from tap_liine.sandbox.readings import Readings

# What the simulated APIs write: Decimals as JSON numbers, integers of any size (orjson stops at 64 bits).
ENCODER = msgspec.json.Encoder(decimal_format="number")
FAULT_KINDS = ("429", "500", "502", "503", "503html", "truncated", "reset", "expire")


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    revoke_token: bool = False  # set by the "expire" fault: the token stops working now

    def one(self, name: str) -> str | None:
        """The last value of a query parameter, or None when absent."""
        values = self.query.get(name)
        return values[-1] if values else None

    def many(self, name: str) -> list[str]:
        """All values of a list parameter, given repeated or comma-separated."""
        out: list[str] = []
        for raw in self.query.get(name, []) + self.query.get(f"{name}[]", []):
            out.extend(v for v in raw.split(",") if v != "")
        return out

    def json(self) -> t.Any:
        return orjson.loads(self.body) if self.body else None


@dataclasses.dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, payload: t.Any, **headers: str) -> Response:
        return cls(status, ENCODER.encode(payload), dict(headers))


Handler = t.Callable[[Request], Response]
ErrorBody = t.Callable[[int, str], t.Any]


def detail_body(status: int, message: str) -> t.Any:  # noqa: ARG001
    """A Django-style error body, the default for every API's faults."""
    return {"detail": message}


class TokenExpired(Exception):
    """Raised by an API when the fault schedule revokes the presented token."""


@dataclasses.dataclass
class FaultSchedule:
    """Every `every`-th API request fails, cycling through `kinds`; deterministic."""

    kinds: tuple[str, ...] = ()
    every: int = 0
    retry_after: int = 1
    _counter: itertools.count = dataclasses.field(default_factory=itertools.count)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    injected: dict[str, int] = dataclasses.field(default_factory=dict)

    def next_fault(self) -> str | None:
        if not self.kinds or self.every <= 0:
            return None
        with self._lock:
            n = next(self._counter) + 1
            if n % self.every:
                return None
            kind = self.kinds[(n // self.every - 1) % len(self.kinds)]
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind


def parse_faults(spec: str) -> tuple[str, ...]:
    """`"all"` or a comma-separated list of FAULT_KINDS."""
    if spec.strip() in {"", "none"}:
        return ()
    kinds = FAULT_KINDS if spec.strip() == "all" else tuple(k.strip() for k in spec.split(","))
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        msg = f"unknown fault kinds {unknown}; choose from {', '.join(FAULT_KINDS)}"
        raise ValueError(msg)
    return kinds


@dataclasses.dataclass
class Maintenance:
    """From the `after`+1-th API request on, every request (logins included) is answered 503
    with `Retry-After` (the whole seconds left) until `seconds` have passed since the first."""

    seconds: float = 0.0
    after: int = 0
    _seen: int = 0
    _ends: float | None = None
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def retry_after(self) -> int | None:
        """Seconds to announce if this request falls in the window; None when it does not."""
        if self.seconds <= 0:
            return None
        with self._lock:
            self._seen += 1
            now = time.monotonic()
            if self._seen <= self.after:
                return None
            if self._ends is None:
                self._ends = now + self.seconds
            if now >= self._ends:
                return None
            return math.ceil(self._ends - now)


@dataclasses.dataclass
class Hold:
    """API requests after the first `after` (of those whose path and query contain `contains`)
    wait until released (or the server stops): a run caught mid-way at a point of the test's
    choosing. `held` counts the requests waiting now: one the client gave up on still counts."""

    after: int | None = None
    contains: str = ""
    held: int = 0
    _seen: int = 0
    _released: threading.Event = dataclasses.field(default_factory=threading.Event)
    _holding: threading.Condition = dataclasses.field(default_factory=threading.Condition)

    def wait_if_held(self, path_and_query: str) -> None:
        if self.after is None or self.contains not in path_and_query:
            return
        with self._holding:
            self._seen += 1
            if self._seen <= self.after or self._released.is_set():
                return
            self.held += 1
            self._holding.notify_all()
        try:
            self._released.wait(timeout=120)
        finally:
            with self._holding:
                self.held -= 1

    def wait_until_held(self, timeout: float = 30) -> int:
        """The number of requests waiting, once at least one is (at most `timeout` seconds)."""
        with self._holding:
            self._holding.wait_for(lambda: self.held > 0, timeout=timeout)
            return self.held

    def release(self) -> None:
        self._released.set()


class ChangesLater:
    """Changes a test plans for the N+1-th request to an API from now: made while a client pages."""

    def __init__(self, change: t.Callable[[list[int]], object]) -> None:
        self._change = change
        self._planned: list[tuple[int, list[int]]] = []  # (requests to wait, ids)
        self._lock = threading.Lock()

    def plan(self, after: int, ids: list[int]) -> None:
        with self._lock:
            self._planned.append((after, ids))

    def request_arrived(self) -> None:
        with self._lock:
            due = [ids for wait, ids in self._planned if wait <= 0]
            self._planned = [(wait - 1, ids) for wait, ids in self._planned if wait > 0]
        for ids in due:
            self._change(ids)


class SandboxServer:
    """Owns the HTTP server thread and the shared settings of every simulated API."""

    def __init__(
        self,
        apis: t.Sequence[t.Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        faults: FaultSchedule | None = None,
        readings: t.Mapping[str, str] | None = None,
        maintenance: Maintenance | None = None,
        clock_skew: float = 0.0,
    ) -> None:
        self.apis = list(apis)
        self.latency_ms = latency_ms
        self.faults = faults or FaultSchedule()
        self.maintenance = maintenance or Maintenance()
        self.hold = Hold()
        self.clock_skew = clock_skew  # seconds the server's clock (its Date header) is off
        self.readings = readings if isinstance(readings, Readings) else Readings(readings)
        self.request_log: list[tuple[str, str]] = []
        # (arrival, path and query, status) of every API request, and the most handled at once.
        self.timeline: list[tuple[float, str, int]] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._flight_lock = threading.Lock()
        # `/_sandbox/gather`: requests whose path and query contain a text are held until this
        # many are in flight at once (then never again): a test sees the client's concurrency
        # whatever the machine's load.
        self.gather: dict[str, t.Any] = {}
        self.gathered = False
        self._gathering_now = 0
        self._gathering = threading.Condition(self._flight_lock)
        # Responses forced on requests whose path and query contain a text (tests' failures).
        self.forced: list[dict[str, t.Any]] = []
        self._routes: list[tuple[str, str, Handler, ErrorBody]] = []
        for api in self.apis:
            documented = self.readings["errors.body"] == "documented" and hasattr(api, "error_body")
            error_body = api.error_body if documented else detail_body
            self._routes.extend((method, path, handler, error_body) for method, path, handler in api.routes())
        self._routes.sort(key=lambda r: -len(r[1]))  # longest prefix first
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self.hold.release()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def route(self, method: str, path: str) -> tuple[Handler, ErrorBody] | None:
        for route_method, prefix, handler, error_body in self._routes:
            if route_method == method and (path == prefix or path.startswith(prefix)):
                return handler, error_body
        return None

    def arrive(self, path_and_query: str) -> None:
        """One more request in flight; while gathering, wait (at most 30 s) until enough are."""
        with self._gathering:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            if not self.gather or self.gathered or self.gather["contains"] not in path_and_query:
                return
            self._gathering_now += 1
            self.gathered = self._gathering_now >= self.gather["in_flight"]
            if self.gathered:
                self._gathering.notify_all()
            else:
                self._gathering.wait_for(lambda: self.gathered, timeout=30)
            self._gathering_now -= 1

    def take_forced(self, path_and_query: str) -> dict[str, t.Any] | None:
        """The forced response for this request, if one is due (each is used `times` times)."""
        with self._flight_lock:
            for forced in self.forced:
                if forced["times"] > 0 and forced["contains"] in path_and_query:
                    forced["times"] -= 1
                    return forced
        return None

    def admin(self, request: Request) -> Response:
        """`/_sandbox/...`: ground truth, record changes and fault control for tests."""
        name = request.path.removeprefix("/_sandbox/").strip("/")
        if name == "force" and request.method == "POST":
            # {"contains": "location_id=3003", "status": 403, "times": 1, "retry_after": 1}; optional
            # "message", "body" (sent verbatim) and "hold" (seconds to wait first; no status: then answer as usual)
            spec = request.json() or {}
            with self._flight_lock:
                self.forced.append({"times": 1, "retry_after": None, **spec})
            return Response.json(200, {"ok": True})
        if name == "faults" and request.method == "POST":
            spec = request.json() or {}
            self.faults = FaultSchedule(
                kinds=parse_faults(spec.get("kinds", "none")),
                every=int(spec.get("every", 0)),
                retry_after=int(spec.get("retry_after", 1)),
            )
            return Response.json(200, {"ok": True})
        if name == "faults":
            return Response.json(200, self.faults.injected)
        if name == "maintenance" and request.method == "POST":
            # {"seconds": 1.5, "after": 10}: a maintenance window from the 11th API request on
            spec = request.json() or {}
            self.maintenance = Maintenance(seconds=float(spec.get("seconds", 0)), after=int(spec.get("after", 0)))
            return Response.json(200, {"ok": True})
        if name == "hold" and request.method == "POST":
            # {"after": 3}: API requests after the third wait; {"contains": "start_date=2026-01-01"}: those
            # requests only (counted among themselves); {"release": true} lets them go
            spec = request.json() or {}
            if spec.get("release"):
                self.hold.release()
            else:
                self.hold = Hold(after=int(spec.get("after", 0)), contains=str(spec.get("contains", "")))
            return Response.json(200, {"ok": True})
        if name == "hold":  # once a request is held (at most 30 s): how many are, e.g. {"held": 1}
            return Response.json(200, {"held": self.hold.wait_until_held()})
        if name == "requests":
            return Response.json(200, [list(r) for r in self.request_log])
        if name == "gather" and request.method == "POST":
            with self._flight_lock:  # {"in_flight": 3, "contains": "/interactions?"}
                self.gather, self.gathered = {"contains": "", **(request.json() or {})}, False
            return Response.json(200, {"ok": True})
        if name == "timeline":
            return Response.json(
                200,
                {
                    "requests": [list(r) for r in self.timeline],
                    "peak_in_flight": self.peak_in_flight,
                    "gathered": self.gathered,
                },
            )
        for api in self.apis:
            answer = api.admin(name, request)
            if answer is not None:
                return t.cast("Response", answer)
        return Response.json(404, {"detail": f"no admin resource {name!r}"})


def _make_handler(server: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs do
        # Headers and body go out as two writes; with Nagle's algorithm on, the client's
        # delayed ACK would add ~40 ms to every keep-alive response.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: t.Any) -> None:
            """Quiet: tests and benchmarks read stdout."""

        def date_time_string(self, timestamp: float | None = None) -> str:
            """The `Date` header, by the server's clock (`clock_skew` seconds off ours)."""
            return super().date_time_string((time.time() if timestamp is None else timestamp) + server.clock_skew)

        def _dispatch(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            if request.path.startswith("/_sandbox/"):
                self._send(server.admin(request))
                return
            server.request_log.append((request.method, self.path))
            arrived = time.monotonic()
            server.arrive(self.path)
            try:
                response = self._answer(request)
            finally:
                with server._flight_lock:
                    server.in_flight -= 1
            server.timeline.append((arrived, self.path, response.status if response else 0))
            if response is None:
                self._reset()
                return
            # A client that gave up meanwhile (a cancelled run, its held request released later): quietly.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(response)

        def _answer(self, request: Request) -> Response | None:
            """The API's response, faults applied; None for a connection reset."""
            if server.latency_ms:
                time.sleep(server.latency_ms / 1000)
            server.hold.wait_if_held(self.path)
            route = server.route(request.method, request.path)
            if route is None:
                return Response.json(404, {"detail": "Not found."})
            handler, error_body = route
            maintenance = server.maintenance.retry_after()
            if maintenance is not None:
                body = error_body(503, "Down for maintenance; back shortly.")
                return Response.json(503, body, **{"Retry-After": str(maintenance)})
            forced = server.take_forced(self.path)
            if forced is not None:
                time.sleep(forced.get("hold", 0))  # a server that keeps the tap waiting (tests kill it meanwhile)
                if "body" in forced:  # verbatim (a string: as HTML), e.g. a 200 that is not the documented envelope
                    if isinstance(forced["body"], str):
                        return Response(forced.get("status", 200), forced["body"].encode(), content_type="text/html")
                    return Response.json(forced.get("status", 200), forced["body"])
                if "status" in forced:
                    headers = {"Retry-After": str(forced["retry_after"])} if forced["retry_after"] is not None else {}
                    message = forced.get("message") or f"Forced {forced['status']}."
                    return Response.json(forced["status"], error_body(forced["status"], message), **headers)
            fault = server.faults.next_fault()
            if fault == "reset":
                return None
            request.revoke_token = fault == "expire"
            try:
                response = handler(request)
            except TokenExpired:
                response = Response.json(401, error_body(401, "Token expired."))
            if fault and fault != "expire":
                response = _faulty(fault, response, server.faults.retry_after, error_body)
            return response

        def _reset(self) -> None:
            # SO_LINGER 0 makes close() send RST: the client sees a connection reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            self.close_connection = True

        def _send(self, response: Response) -> None:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
            if response.status >= 500:
                self.close_connection = True

        do_GET = do_POST = _dispatch

    return _Handler


def _faulty(kind: str, response: Response, retry_after: int, error_body: ErrorBody) -> Response:
    if kind == "429":
        return Response.json(429, error_body(429, "Request was throttled."), **{"Retry-After": str(retry_after)})
    if kind == "503html":
        page = b"<html><head><title>503 Service Unavailable</title></head><body>Maintenance</body></html>"
        return Response(503, page, content_type="text/html")
    if kind in {"500", "502", "503"}:
        return Response.json(int(kind), error_body(int(kind), "Server error."))
    if kind == "truncated":
        # A body cut short mid-document, declared with its true (short) length.
        return Response(response.status, response.body[: max(1, len(response.body) // 2)], response.headers)
    return response
