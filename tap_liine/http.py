"""Resilient HTTP for the tap's streams: retries, Retry-After, re-login, one decode, one-sentence errors.

Mixed into the stream base, through the SDK's public request hooks (`validate_response`,
`backoff_*`, `request_decorator`, `response_error_message`):

- 429: waits for Retry-After (the gate holds every thread meanwhile); 5xx, timeouts,
  resets and unreadable bodies: exponential backoff, `max_retries` tries in all;
- 401 on a token the tap had: the token is dropped and the request retried with a fresh
  login, at most `MAX_RELOGINS` times in a row (more: refused for good);
- 404 or 400 to a page number past the last (Django REST framework's "Invalid page."): the
  end of the list, when earlier pages had rows (`past_the_last_page`); on page 1 an error;
- other 4xx: the run fails at once, with one sentence naming the API, the real path, the
  partition (customer, location, integration) and the API's own words;
- each body is decoded once, with orjson (NaN/Infinity tolerated, as null); the decoded
  value is kept per thread for `parse_response` and the paginator, not on the response.
"""

from __future__ import annotations

import json
import random
import threading
import typing as t
from http import HTTPStatus
from urllib.parse import urlsplit

import backoff
import orjson
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_liine.auth import ExchangedTokenAuthenticator
from tap_liine.errors import RateLimited, UnauthorizedRetry, api_message
from tap_liine.gate import Stopped, retry_after

if t.TYPE_CHECKING:
    from collections.abc import Generator

    from tap_liine.observations import Observations

# A request refused with a fresh token this often in a row is refused for good (not an
# expiry race with another thread's request).
MAX_RELOGINS = 3
# What a server with Django REST framework's page-number pagination answers past the last page.
PAST_THE_LAST = (HTTPStatus.NOT_FOUND, HTTPStatus.BAD_REQUEST)
RETRIABLE_ERRORS = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class ResilientHTTP:
    """The request side of `TapStream`; expects the attributes listed here from it."""

    if t.TYPE_CHECKING:  # provided by the stream this is mixed into
        api_name: str
        path: str
        name: str
        config: t.Mapping[str, t.Any]
        logger: t.Any
        _local: threading.local

        @property
        def observations(self) -> Observations: ...

        def tally(self, what: str, count: int = 1) -> None: ...

        @property
        def authenticator(self) -> t.Any: ...

    def where(self) -> str:
        """The partition (and window) this thread is fetching, for messages."""
        return getattr(self._local, "where", "")

    # ----- responses -------------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        where = self._request_words(response)
        if status != HTTPStatus.UNAUTHORIZED:
            self._local.refused = 0
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            wait = retry_after(response)
            msg = f"{where} answered 429 (rate limited); retrying after {wait if wait is not None else 'a backoff'} s"
            raise RateLimited(msg, response, wait)
        if status == HTTPStatus.UNAUTHORIZED and isinstance(self.authenticator, ExchangedTokenAuthenticator):
            refused = getattr(self._local, "refused", 0)
            if refused >= MAX_RELOGINS:
                msg = f"{where} answered 401 again after {refused} new logins: {api_message(response)}"
                raise FatalAPIError(msg)
            self._local.refused = refused + 1
            self.tally("relogins")
            self.authenticator.invalidate(response.request.headers.get(self.authenticator.header_name))
            msg = f"{where} answered 401 ({api_message(response)}); logging in again"
            raise UnauthorizedRetry(msg, response)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            msg = f"{where} answered {status} {response.reason}: {api_message(response)}"
            raise RetriableAPIError(msg, response)
        if status in PAST_THE_LAST and (empty := self.past_the_last_page()) is not None:
            self.observations.note(
                f"past-the-last:{self.name}",
                "%s: %s %s answers %d (%s) to a page number past the last; after pages with rows, the tap takes "
                "that as the end of the list.",
                self.name, self.api_name, self.path, status, api_message(response),
            )  # fmt: skip
            self._local.decoded = (response, empty)
            return
        if status >= HTTPStatus.BAD_REQUEST:
            msg = f"{where} answered {status} {response.reason}: {api_message(response)}"
            raise FatalAPIError(msg)
        try:
            body = self.decode_body(response.content)
        except ValueError:  # orjson.JSONDecodeError and json.JSONDecodeError are ValueErrors
            msg = f"{where} answered {status} with an unreadable body ({len(response.content)} bytes)"
            raise RetriableAPIError(msg, response) from None
        self.check_envelope(body, where)
        self._local.decoded = (response, body)
        self.tally("pages")

    def _request_words(self, response: requests.Response) -> str:
        """E.g. "Interactly GET /integrations/v2/resource-records/5eb7.../appointments/statistics (integration
        5eb7..., type all)": the API, the real path, and what the request was for."""
        request = response.request
        path = urlsplit(request.url or "").path or self.path
        where = self.where()
        return f"{self.api_name} {request.method} {path}" + (f" ({where})" if where else "")

    def decoded(self, response: requests.Response) -> t.Any:
        """The body `validate_response` decoded (on this thread, for this response)."""
        kept = getattr(self._local, "decoded", None)
        if kept is None or kept[0] is not response:
            return self.decode_body(response.content)
        return kept[1]

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

    def past_the_last_page(self) -> t.Any | None:
        """When the page just refused (404/400) follows pages with rows of the same list: the body of
        an empty page, which ends the list. None otherwise (the answer is an error). Default: None."""
        return None

    def response_error_message(self, response: requests.Response) -> str:
        # The SDK's default appends the body and header names; ours is one clean sentence.
        return f"{self._request_words(response)} answered {response.status_code}: {api_message(response)}"

    # ----- retries ------------------------------------------------------------------------

    def backoff_max_tries(self) -> int:
        return t.cast("int", self.config.get("max_retries", 5))

    def backoff_wait_generator(self) -> Generator[float, None, None]:
        """Waits between the tries of one request: Retry-After for a 429, none before a
        re-login, else exponential from `retry_wait_seconds` (the generator counts the tries)."""
        base = float(self.config.get("retry_wait_seconds", 2.0))

        def waits() -> Generator[float, t.Any, None]:
            backoffs = 0
            error = yield 0.0  # backoff primes the generator with send(None) and discards this
            while True:
                if isinstance(error, UnauthorizedRetry):
                    wait = 0.0
                elif isinstance(error, RateLimited) and error.wait is not None:
                    wait = error.wait
                else:
                    wait = base * 2**backoffs
                    backoffs += 1
                error = yield wait

        return waits()

    def backoff_jitter(self, value: float) -> float:
        # Never shorter than asked (Retry-After is a floor); up to 10% longer.
        return value + random.uniform(0, value / 10)  # noqa: S311

    def backoff_handler(self, details: t.Any) -> None:
        error = details.get("exception")
        if not isinstance(error, UnauthorizedRetry):  # counted as a re-login
            self.tally("retries")
        self.logger.warning(
            "%s (try %d of %d); waiting %.2f s",
            error if isinstance(error, RetriableAPIError) else f"{self.api_name} {self.path}: {type(error).__name__}",
            details.get("tries"),
            self.backoff_max_tries(),
            details.get("wait") or 0.0,
        )

    def request_decorator(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
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
            except Stopped:
                raise
            except RetriableAPIError as exc:
                msg = f"Giving up after {self.backoff_max_tries()} tries: {exc}"
                raise FatalAPIError(msg) from None
            except requests.exceptions.RequestException as exc:
                where = f" ({self.where()})" if self.where() else ""
                msg = (
                    f"Giving up after {self.backoff_max_tries()} tries: {self.api_name} {self.path}{where} "
                    f"could not be reached ({type(exc).__name__})"
                )
                raise FatalAPIError(msg) from None

        return call
