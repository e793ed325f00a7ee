"""Base stream shared by the three APIs: decoding once, retries, Retry-After, error messages."""

from __future__ import annotations

import datetime as dt
import json
import random
import typing as t
from functools import cached_property
from http import HTTPStatus

import backoff
import orjson
import pendulum
import requests
import singer_sdk.singerlib as singer
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream

from tap_liine.auth import ExchangedTokenAuthenticator
from tap_liine.concurrency import PartitionPipeline, batched
from tap_liine.errors import api_message
from tap_liine.fidelity import TypeFidelity
from tap_liine.observations import Observations

if t.TYPE_CHECKING:
    from collections.abc import Generator

    from singer_sdk.helpers.types import Context


MAX_RETRY_AFTER_SECONDS = 600.0
# A request refused with a fresh token this often is refused for good (not an expiry race
# with another thread's request).
MAX_RELOGINS = 3
RETRIABLE_ERRORS = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class RateLimited(RetriableAPIError):
    """A 429; `wait` is what the server asked for in Retry-After (seconds), if it said."""

    def __init__(self, message: str, response: requests.Response, wait: float | None) -> None:
        super().__init__(message, response)
        self.wait = wait


class UnauthorizedRetry(RetriableAPIError):
    """A 401 on a token we had: log in again and retry (at most MAX_RELOGINS times)."""


class LiineBaseStream(RESTStream[t.Any]):
    """What every stream of the tap shares.

    - The body is decoded once, with orjson, inside `validate_response`: an unreadable
      (e.g. truncated) body is then a retriable error like a 5xx, and `parse_response`
      and the paginator read the decoded value from `response.decoded`.
    - 429 waits for Retry-After; 5xx, timeouts, resets and unreadable bodies back off
      exponentially; a 401 logs in again; other 4xx fail at once with the API's words.
    """

    # Set by subclasses: "Liine", "Conversations", "Interactly"
    api_name = "API"
    # The lean record path: the SDK's per-field conformance is replaced by `conform`
    # (see tap_liine/fidelity.py: it makes the one change that conformance would make).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @cached_property
    def fidelity(self) -> TypeFidelity:
        return TypeFidelity(self.schema, stream=self.name, logger=self.logger)

    def conform(self, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """Each value as its schema declares it, where the value carries that type (in place)."""
        return self.fidelity.page(records)

    @property
    def observations(self) -> Observations:
        return self._tap.observations  # type: ignore[attr-defined,no-any-return]

    @cached_property
    def _everything_selected(self) -> bool:
        return all(self.mask.values())

    def _generate_record_messages(self, record: dict[str, t.Any]) -> t.Generator[singer.RecordMessage, None, None]:
        # As the SDK's, but without its per-record copy for deselected properties when none
        # is deselected (that copy is the largest cost left once conformance is lean).
        if not self._everything_selected or self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE:
            yield from super()._generate_record_messages(record)
            return
        extracted = utc_now()
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=extracted,
                )

    @property
    def selected(self) -> bool:
        """Selected in the catalog, and its source configured (else skipped, said once)."""
        if not super().selected:
            return False
        if self._tap.source_configured(self.api_name):  # type: ignore[attr-defined]
            return True
        if not getattr(self, "_said_unconfigured", False):
            self._said_unconfigured = True
            self.logger.info(
                "Skipping stream '%s': the %s source is not configured (%s).",
                self.name, self.api_name, self._tap.source_hint(self.api_name),  # type: ignore[attr-defined]
            )  # fmt: skip
        return False

    @selected.setter
    def selected(self, value: bool | None) -> None:
        RESTStream.selected.fset(self, value)  # type: ignore[attr-defined]

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """This partition's tasks (windows, days, one walk), fetched ahead on worker threads
        together with those of the partitions after it, emitted in order, each followed by
        `task_done` (a STATE), then `partition_done`."""
        if context is None:  # no partition at all: this source is not configured
            return
        pipeline = self._pipeline
        if pipeline is None or pipeline.next_partition != dict(context):
            # First partition, or the SDK asks out of the planned order: plan from here.
            pipeline = self._start_pipeline(dict(context))
        for task, batches in pipeline.take(dict(context)):
            for batch in batches:
                yield from self.admit(context, task, batch)
            self.task_done(context, task)
        self.partition_done(context)

    _pipeline: PartitionPipeline[t.Any] | None = None

    def _start_pipeline(self, context: dict[str, t.Any]) -> PartitionPipeline[t.Any]:
        if self._pipeline is not None:
            self._pipeline.close()
        partitions = [dict(p) for p in (self.partitions or [])]
        later = partitions[partitions.index(context) :] if context in partitions else [context]
        self._pipeline = PartitionPipeline(
            [(p, self.plan(p)) for p in later],
            lambda p, task: batched(self.fetch(p, task)),
            workers=self._tap.workers,  # type: ignore[attr-defined]
        )
        return self._pipeline

    def plan(self, context: Context) -> list[t.Any]:  # noqa: ARG002
        """The tasks of one partition, in order. Default: one walk over all its pages."""
        return [None]

    def fetch(self, context: Context, task: t.Any) -> t.Iterable[dict[str, t.Any]]:  # noqa: ARG002
        """The records of one task; runs on a worker thread."""
        return self.request_records(context)

    def admit(self, context: Context, task: t.Any, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:  # noqa: ARG002
        """The records of a task to emit, in order (main thread). Default: all of them."""
        return records

    def task_done(self, context: Context, task: t.Any) -> None:
        """After a task's records are out (main thread): save progress."""

    def partition_done(self, context: Context) -> None:
        """After the partition's last task."""

    @property
    def authenticator(self) -> APIAuthenticatorBase:
        return self._tap.authenticator_for(self.api_name)  # type: ignore[attr-defined]

    @property
    def requests_session(self) -> requests.Session:
        return self._tap.http_session  # type: ignore[attr-defined,no-any-return]

    def _request(self, prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
        # One attempt; the SDK's retry decorator wraps it. The tap-wide gate caps parallel
        # requests and their rate, and holds every thread while a 429's Retry-After runs.
        with self._tap.gate:  # type: ignore[attr-defined]
            return super()._request(prepared_request, context)

    def emit_state(self) -> None:
        """Write a STATE now (after a window: every record it covers is already out)."""
        self.state_manager.is_flushed = False
        self._write_state_message()

    def build_prepared_request(self, *args: t.Any, **kwargs: t.Any) -> requests.PreparedRequest:
        # Unlike the SDK's, no session-level auth: `_request` authenticates each attempt
        # inside the retry decorator, so a login that fails transiently is retried too.
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    @cached_property
    def timeout(self) -> int:  # type: ignore[override]
        return t.cast("int", self.config.get("request_timeout", 300))

    # ----- responses -------------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        where = f"{self.api_name} {response.request.method} {self.path}"
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            wait = _retry_after(response)
            self._tap.gate.pause(wait if wait is not None else float(self.config.get("retry_wait_seconds", 2.0)))  # type: ignore[attr-defined]
            msg = f"{where} answered 429 (rate limited); retrying after {wait if wait is not None else 'a backoff'} s"
            raise RateLimited(msg, response, wait)
        if status == HTTPStatus.UNAUTHORIZED and isinstance(self.authenticator, ExchangedTokenAuthenticator):
            sent = response.request.headers.get(self.authenticator.header_name)
            relogins = getattr(response.request, "_liine_relogins", 0)
            if relogins >= MAX_RELOGINS:
                msg = f"{where} answered 401 again after {relogins} new logins: {api_message(response)}"
                raise FatalAPIError(msg)
            self.authenticator.invalidate(sent)
            response.request._liine_relogins = relogins + 1  # type: ignore[attr-defined]
            msg = f"{where} answered 401 ({api_message(response)}); logging in again"
            raise UnauthorizedRetry(msg, response)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            msg = f"{where} answered {status} {response.reason}: {api_message(response)}"
            raise RetriableAPIError(msg, response)
        if status >= HTTPStatus.BAD_REQUEST:
            msg = f"{where} answered {status} {response.reason}: {api_message(response)}"
            raise FatalAPIError(msg)
        try:
            response.decoded = self.decode_body(response.content)  # type: ignore[attr-defined]
        except ValueError:  # orjson.JSONDecodeError and json.JSONDecodeError are ValueErrors
            msg = f"{where} answered {status} with an unreadable body ({len(response.content)} bytes)"
            raise RetriableAPIError(msg, response) from None
        self.check_envelope(response.decoded, where)  # type: ignore[attr-defined]

    def decode_body(self, content: bytes) -> t.Any:
        """orjson, once per page: parse_response and the paginator read the same value.

        Python back ends write NaN and Infinity, which JSON does not have and Singer output
        must not carry: such a body is read anyway, those values as null, said once.
        """
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            constants: list[str] = []
            # Each NaN/Infinity becomes what `append` returns: None.
            body = json.loads(content, parse_constant=constants.append)
            self.observations.warn(
                f"non-finite:{self.name}",
                "%s: %s %s sent %s, which JSON does not allow; such values are emitted as null.",
                self.name, self.api_name, self.path, " and ".join(sorted(set(constants))),
            )  # fmt: skip
            return body

    def check_envelope(self, body: t.Any, where: str) -> None:
        """Raise when a 200 body reports an error (e.g. `code: false`). Default: no check."""

    def response_error_message(self, response: requests.Response) -> str:
        # The SDK's default appends the body and header names; ours is one clean sentence.
        return f"{self.api_name} {self.path} answered {response.status_code}: {api_message(response)}"

    # ----- retries ------------------------------------------------------------------------

    def backoff_max_tries(self) -> int:
        return t.cast("int", self.config.get("max_retries", 5))

    def backoff_wait_generator(self) -> Generator[float, None, None]:  # type: ignore[override]
        base = float(self.config.get("retry_wait_seconds", 2.0))

        def wait_for(exc: Exception) -> float:
            if isinstance(exc, UnauthorizedRetry):
                return 0.0
            if isinstance(exc, RateLimited) and exc.wait is not None:
                return exc.wait
            tries = getattr(exc, "_liine_tries", 0)
            return base * 2**tries

        return self.backoff_runtime(value=_counting(wait_for))

    def backoff_jitter(self, value: float) -> float:
        # Never shorter than asked (Retry-After is a floor); up to 10% longer.
        return value + random.uniform(0, value / 10)  # noqa: S311

    def backoff_handler(self, details: t.Any) -> None:
        exc = details.get("exception")
        self.logger.warning(
            "%s (try %d of %d); waiting %.2f s",
            exc if isinstance(exc, RetriableAPIError) else f"{self.api_name} {self.path}: {type(exc).__name__}",
            details.get("tries"),
            self.backoff_max_tries(),
            details.get("wait") or 0.0,
        )

    def request_decorator(self, func: t.Callable) -> t.Callable:
        # As the SDK's, with our own messages: backoff's logger is off and a request that
        # exhausts its tries fails the run with one sentence naming endpoint and status.
        decorated = backoff.on_exception(
            self.backoff_wait_generator,
            RETRIABLE_ERRORS,
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=self.backoff_jitter,
            logger=None,
        )(func)

        def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
            try:
                return decorated(*args, **kwargs)
            except RetriableAPIError as exc:
                msg = f"Giving up after {self.backoff_max_tries()} tries: {exc}"
                raise FatalAPIError(msg) from None
            except requests.exceptions.RequestException as exc:
                msg = (
                    f"Giving up after {self.backoff_max_tries()} tries: {self.api_name} {self.path} "
                    f"could not be reached ({type(exc).__name__})"
                )
                raise FatalAPIError(msg) from None

        return call

    def rewound_bookmark(self, context: Context | None, lookback_setting: str = "lookback_days") -> dt.datetime | None:
        """This partition's saved bookmark less the lookback; None on a first run."""
        bookmark = self.get_context_state(context).get("replication_key_value")
        if not bookmark:
            return None
        lookback = dt.timedelta(days=int(self.config.get(lookback_setting, 1)))
        return parse_datetime(bookmark) - lookback

    def updated_since(self, context: Context | None) -> dt.datetime:
        """The bookmark less the lookback, or `start_date` on a first run."""
        return self.rewound_bookmark(context) or parse_datetime(self.config["start_date"])

    def decoded(self, response: requests.Response) -> t.Any:
        """The body `validate_response` decoded."""
        return response.decoded  # type: ignore[attr-defined]


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        import time
        from email.utils import parsedate_to_datetime

        try:
            seconds = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _counting(wait_for: t.Callable[[Exception], float]) -> t.Callable[[Exception], float]:
    """Number the backoffs of one request so the exponential wait can grow."""
    state = {"tries": 0}

    def value(exc: Exception) -> float:
        exc._liine_tries = state["tries"]  # type: ignore[attr-defined]
        state["tries"] += 1
        return wait_for(exc)

    return value


def parse_datetime(value: str) -> dt.datetime:
    """An ISO-8601 date or date-time, as an aware datetime (UTC when no offset is given)."""
    return t.cast("dt.datetime", pendulum.parse(value))
