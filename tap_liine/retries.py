"""How the tap retries a request, whether a stream's (http.py) or a login (auth.py).

A retriable error (429, 5xx, an error carrying Retry-After, a timeout, a reset, an
unreadable body) is tried again up to `max_retries` tries in all. The wait before the next
try is the server's Retry-After when it gave one (the request gate holds every other thread
meanwhile), none before a re-login, else exponential from `retry_wait_seconds`; a run that
fails, is cancelled or ends meanwhile cuts the wait short (the gate's `sleep`). A request
that exhausts its tries fails the run with one sentence naming what was asked and answered.
Workers retrying one source for one reason at once say so in one line (`RetryNotices`).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
import typing as t

import requests
import tenacity
from singer_sdk.exceptions import RetriableAPIError

from tap_liine.errors import GaveUp, RetryLater, UnauthorizedRetry
from tap_liine.gate import Stopped

if t.TYPE_CHECKING:
    from collections.abc import Generator

RETRIABLE_ERRORS = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
F = t.TypeVar("F", bound=t.Callable[..., t.Any])


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    tries: int = 5
    first_wait: float = 2.0
    longest_wait: float = 300.0  # the longest Retry-After waited for
    # How a wait is waited: the tap's is the request gate's, which a failed or ended run cuts short.
    sleep: t.Callable[[float], None] = time.sleep

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any], sleep: t.Callable[[float], None] = time.sleep) -> RetryPolicy:
        return cls(
            tries=int(config.get("max_retries", cls.tries)),
            first_wait=float(config.get("retry_wait_seconds", cls.first_wait)),
            longest_wait=float(config.get("max_retry_after_seconds", cls.longest_wait)),
            sleep=sleep,
        )

    def waits(self) -> Generator[float, BaseException | None, None]:
        """Waits between the tries of one request: primed with next(), then each error is sent in."""
        backoffs = 0
        error = yield 0.0
        while True:
            if isinstance(error, UnauthorizedRetry):
                wait = 0.0
            elif isinstance(error, RetryLater) and error.wait is not None:
                wait = error.wait
            else:
                wait = self.first_wait * 2**backoffs
                backoffs += 1
            error = yield wait

    @staticmethod
    def jitter(value: float) -> float:
        # Never shorter than asked (Retry-After is a floor); up to 10% longer.
        return value + random.uniform(0, value / 10)  # noqa: S311

    def retrying(
        self,
        func: F,
        *,
        on_backoff: t.Callable[[dict[str, t.Any]], None],
        unreachable: t.Callable[[BaseException], str],
    ) -> F:
        """`func` retried by this policy; giving up fails the run with one sentence (`unreachable`
        says what could not be reached when no answer came at all). `on_backoff` is told of each
        retry (`tries` so far, the `wait` ahead, the `exception`) before its wait."""

        def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
            waits = self.waits()
            next(waits)
            attempts = tenacity.Retrying(
                retry=tenacity.retry_if_exception_type(RETRIABLE_ERRORS),
                stop=tenacity.stop_after_attempt(self.tries),
                wait=lambda state: self.jitter(waits.send(_error(state))),
                before_sleep=lambda state: on_backoff(
                    {"tries": state.attempt_number, "wait": state.upcoming_sleep, "exception": _error(state)}
                ),
                sleep=self.sleep,
                reraise=True,
            )
            try:
                return attempts(func, *args, **kwargs)
            except Stopped:
                raise
            except RetriableAPIError as exc:
                msg = f"Giving up after {self.tries} tries: {exc}"
                raise GaveUp(msg) from None
            except (requests.exceptions.RequestException, ConnectionResetError) as exc:
                msg = f"Giving up after {self.tries} tries: {unreachable(exc)}"
                raise GaveUp(msg) from None

        return t.cast("F", call)


def _error(state: tenacity.RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


class RetryNotices:
    """One warning per wait, not one per worker: during an outage or a maintenance window every
    worker gets the same answer from a source, and says it once. The first worker to back off
    for a source and a kind of failure (an HTTP status, else the error's type) says so; the
    others that back off for the same while it waits stay silent (the run summary counts every
    retry, and DEBUG shows each). A different source or kind of failure is always said, and so is
    each further wait."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._quiet_until: dict[tuple[str, str], float] = {}

    def backing_off(
        self, source: str, error: BaseException | None, wait: float, *, what: object, tries: int, of: int
    ) -> None:
        """ "<what> (try <tries> of <of>); waiting <wait> s", at WARNING unless a worker already said
        this source's and kind's current wait."""
        response = getattr(error, "response", None)
        key = (source, str(response.status_code) if response is not None else type(error).__name__)
        with self._lock:
            now = time.monotonic()
            said = now < self._quiet_until.get(key, 0.0)
            if not said:
                self._quiet_until[key] = now + wait
        self._logger.log(
            logging.DEBUG if said else logging.WARNING, "%s (try %d of %d); waiting %.2f s", what, tries, of, wait
        )
