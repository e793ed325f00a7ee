"""Resilient HTTP for the tap's streams: retries, Retry-After, re-login, one decode, one-sentence errors.

Mixed into the stream base, through the SDK's public request hooks (`validate_response`,
`request_decorator`, `backoff_handler`, `response_error_message`):

- 429, 5xx, and any error carrying Retry-After: retried after its Retry-After (the gate
  holds every thread meanwhile) up to `max_retry_after_seconds`, else with exponential
  backoff; timeouts, resets and unreadable bodies likewise; `max_retries` tries in all
  (retries.py);
- 401 on a token the tap had: the token is dropped and the request retried with a fresh
  login, at most `MAX_RELOGINS` times in a row (more: refused for good);
- 404 or 400 to a page number past the last (Django REST framework's "Invalid page."): the
  end of the list, when earlier pages had rows (`past_the_last_page`); on page 1 an error;
- other 4xx: the run fails at once, with one sentence naming the API, the real path, the
  partition (customer, location, integration) and the API's own words;
- each body is decoded once, numbers exactly as written (decimals as `Decimal`, integers of
  any size; NaN/Infinity tolerated, as null); the decoded value is kept per thread for
  `parse_response` and the paginator, not on the response.
"""

from __future__ import annotations

import decimal
import json
import threading
import typing as t
from http import HTTPStatus
from urllib.parse import urlsplit

import msgspec
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_liine.auth import ExchangedTokenAuthenticator
from tap_liine.errors import UnauthorizedRetry, api_message
from tap_liine.gate import retry_later

if t.TYPE_CHECKING:
    from tap_liine.observations import Observations
    from tap_liine.resources import TapResources
    from tap_liine.retries import RetryPolicy

# A request refused with a fresh token this often in a row is refused for good (not an
# expiry race with another thread's request).
MAX_RELOGINS = 3
# What a server with Django REST framework's page-number pagination answers past the last page.
PAST_THE_LAST = (HTTPStatus.NOT_FOUND, HTTPStatus.BAD_REQUEST)
# Numbers exactly as the API wrote them: a decimal never passes through a float (a double
# holds 15-17 digits), integers keep every digit (orjson turns those above 2^64 into floats).
# The writers encode Decimals back as JSON numbers (singer_sdk.contrib.msgspec's encoder).
_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)


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

        @property
        def resources(self) -> TapResources: ...

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
        if status == HTTPStatus.UNAUTHORIZED and isinstance(self.authenticator, ExchangedTokenAuthenticator):
            refused = getattr(self._local, "refused", 0)
            if refused >= MAX_RELOGINS:
                msg = f"{where} answered 401 again after {refused} new logins: {api_message(response)}"
                raise FatalAPIError(msg)
            self._local.refused = refused + 1
            self.tally("relogins")
            msg = f"{where} answered 401 ({api_message(response)})"
            self.authenticator.invalidate(response.request.headers.get(self.authenticator.header_name), msg)
            raise UnauthorizedRetry(msg, response)
        error = retry_later(response, where, longest_wait=self.retry_policy.longest_wait)
        if error is not None:
            raise error
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
            raise self.refusal(response, f"{where} answered {status} {response.reason}: {api_message(response)}")
        try:
            body = self.decode_body(response.content)
        except ValueError:  # msgspec.DecodeError and json.JSONDecodeError are ValueErrors
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
        """Once per page (parse_response and the paginator read the same value), numbers exact.

        Python back ends write NaN and Infinity, which JSON does not have and Singer output
        must not carry: such a body is read anyway, those values as null, said once.
        """
        try:
            return _DECODER.decode(content)
        except msgspec.DecodeError:
            constants: list[str] = []
            # Each NaN/Infinity becomes what `append` returns: None.
            body = json.loads(content, parse_float=decimal.Decimal, parse_constant=constants.append)
            self.observations.warn(
                f"non-finite:{self.name}",
                "%s: %s %s sent %s, which JSON does not allow; such values are emitted as null.",
                self.name, self.api_name, self.path, " and ".join(sorted(set(constants))),
            )  # fmt: skip
            return body

    def refusal(self, response: requests.Response, message: str) -> Exception:  # noqa: ARG002
        """The error for a 4xx that retrying cannot help. Default: the run fails, saying `message`."""
        return FatalAPIError(message)

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

    @property
    def retry_policy(self) -> RetryPolicy:
        return self.resources.retry

    def backoff_handler(self, details: t.Any) -> None:
        error = details.get("exception")
        if isinstance(error, UnauthorizedRetry):
            return  # said once per refused token, by the authenticator; counted as a re-login
        self.tally("retries")
        what = error if isinstance(error, RetriableAPIError) else f"{self.api_name} {self.path}: {type(error).__name__}"
        self.resources.retry_notices.backing_off(
            self.api_name, error, details.get("wait") or 0.0, what=what, tries=details.get("tries"),
            of=self.retry_policy.tries,
        )  # fmt: skip

    def request_decorator(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        # As the SDK's, with our own waits and messages (retries.py): a request that exhausts
        # its tries fails the run with one sentence naming endpoint and status.
        return self.retry_policy.retrying(func, on_backoff=self.backoff_handler, unreachable=self._unreachable)

    def _unreachable(self, error: BaseException) -> str:
        where = f" ({self.where()})" if self.where() else ""
        return f"{self.api_name} {self.path}{where} could not be reached ({type(error).__name__})"
