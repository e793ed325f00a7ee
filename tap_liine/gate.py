"""The tap-wide request gate: how many requests at once, how fast, when to pause, when to stop.

Every HTTP request of the tap, logins included, goes out through `GatedAdapter`, the
requests transport adapter mounted on the tap's one session. So one place caps parallel
requests and their rate, holds every thread while a Retry-After runs (a 429's, a 503's, a
login's), and, once any request has failed for good, the run was cancelled or it has ended,
lets no further request out and wakes every thread waiting to retry: the other workers stop
at once instead of finishing their windows of a run that is over.
"""

from __future__ import annotations

import threading
import time
import typing as t
from email.utils import parsedate_to_datetime

from requests.adapters import HTTPAdapter
from singer_sdk.exceptions import FatalAPIError

from tap_liine.errors import RateLimited, RetryLater, api_message

if t.TYPE_CHECKING:
    import requests

_POLL = 0.05  # how often a waiting thread looks whether the run has failed


class Stopped(Exception):
    """A request not sent because the run has already failed (see `RequestGate.failure`) or ended."""


class RequestGate:
    def __init__(self, *, parallel: int, per_second: float = 0.0) -> None:
        self._slots = threading.BoundedSemaphore(parallel)
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._lock = threading.Lock()
        self._next_start = 0.0
        self._paused_until = 0.0
        self._failure: BaseException | None = None
        self._stopped = threading.Event()  # failed or ended: set once, wakes every `sleep`

    @property
    def failure(self) -> BaseException | None:
        """The error that failed the run, once one has."""
        return self._failure

    def fail(self, error: BaseException) -> None:
        """The run has failed: let no further request out. The first failure is kept."""
        with self._lock:
            if self._failure is None and not isinstance(error, Stopped):
                self._failure = error
                self._stopped.set()

    def close(self) -> None:
        """The run has ended (its `failure`, if any, stays as it was): let no further request out."""
        self._stopped.set()

    def sleep(self, seconds: float) -> None:
        """A retry's wait, cut short (raising `Stopped`) when the run fails or ends meanwhile."""
        if self._stopped.wait(seconds):
            self._raise_if_failed()

    def pause(self, seconds: float) -> None:
        """The server asked to wait: every worker waits, not just the one that got the answer."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def __enter__(self) -> RequestGate:
        while not self._slots.acquire(timeout=_POLL):
            self._raise_if_failed()
        try:
            while True:
                self._raise_if_failed()
                with self._lock:
                    now = time.monotonic()
                    wait = max(self._paused_until, self._next_start) - now
                    if wait <= 0:
                        self._next_start = now + self._interval
                        return self
                time.sleep(min(wait, _POLL))
        except BaseException:
            self._slots.release()
            raise

    def __exit__(self, *exc: object) -> None:
        self._slots.release()

    def _raise_if_failed(self) -> None:
        if self._stopped.is_set():
            raise Stopped(str(self._failure or "the run has ended"))


class GatedAdapter(HTTPAdapter):
    """Sends each request through the gate; an answer asking to wait pauses every thread."""

    def __init__(self, gate: RequestGate, *, default_pause: float, longest_wait: float, pool_maxsize: int) -> None:
        super().__init__(pool_maxsize=pool_maxsize)
        self.gate = gate
        self._default_pause = default_pause
        self._longest_wait = longest_wait

    def send(self, request: requests.PreparedRequest, *args: t.Any, **kwargs: t.Any) -> requests.Response:  # type: ignore[override]  # same arguments, passed on
        with self.gate:
            response = super().send(request, *args, **kwargs)
        if response.status_code >= 400:
            wait = retry_after(response)
            if wait is None and response.status_code == 429:
                wait = self._default_pause
            if wait is not None and wait <= self._longest_wait:  # a longer one fails the run (`retry_later`)
                self.gate.pause(wait)
        return response


def retry_after(response: requests.Response) -> float | None:
    """The Retry-After of a response in seconds (given as seconds or an HTTP date), if it has one."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(seconds, 0.0)


def retry_later(response: requests.Response, words: str, *, longest_wait: float) -> Exception | None:
    """The error for an answer to try again later, or None: a 429, a 5xx, or any other error
    carrying Retry-After (the server's word that it will answer later). A Retry-After longer
    than `longest_wait` fails the run instead. `words` names the request, e.g. "Liine GET /path"."""
    status = response.status_code
    wait = retry_after(response)
    if status < 400 or (status < 500 and status != 429 and wait is None):
        return None
    if wait is not None and wait > longest_wait:
        msg = (
            f"{words} answered {status} asking to retry after {wait:.0f} s, longer than the setting "
            f"`max_retry_after_seconds` allows ({longest_wait:g} s): run again later, or raise that setting."
        )
        return FatalAPIError(msg)
    if status == 429:
        after = "a backoff" if wait is None else f"{wait} s"
        return RateLimited(f"{words} answered 429 (rate limited); retrying after {after}", response, wait)
    asked = "" if wait is None else f" (Retry-After: {wait:g} s)"
    return RetryLater(f"{words} answered {status}: {api_message(response)}{asked}", response, wait)
