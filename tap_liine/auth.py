"""Authenticators: Liine's JWT login and the conversations token exchange.

Both trade a secret for a short-lived token. `ExchangedTokenAuthenticator` holds one token
per tap (shared by every stream and thread) and logs in one thread at a time: the others
wait for that login's outcome, a token or its failure, instead of each trying again. A
login is retried like any request (retries.py: Retry-After, backoff, `max_retries`), by the
one thread that makes it; refused credentials or exhausted tries fail every thread alike.

A token is renewed shortly before it expires, its lifetime reckoned by the server's own
clock (its `Date` header), so a skewed clock on either side does not matter. An expiry
that is not after the server's time (a naive local time, say) is not trusted: the token
is then used until the API refuses it with a 401, which drops it and logs in again.

Only a 400, 401 or 403 (or the API's own refusal in a 200) blames the credentials. Any other
answer at the login (404, 405, 5xx or an unreadable body till the tries run out) means the
login went where none is: the error names the URL setting and the path asked.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import threading
import time
import typing as t
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_liine.errors import GaveUp, LoginError, api_message
from tap_liine.gate import retry_later
from tap_liine.instants import parse_datetime
from tap_liine.retries import RetryNotices, RetryPolicy
from tap_liine.settings import API_URLS

RENEW_MARGIN_SECONDS = 60.0
REFUSALS = (400, 401, 403)  # how an API refuses credentials (Django REST framework's login answers 400)


class ExchangedTokenAuthenticator(APIAuthenticatorBase, abc.ABC):
    """Keeps a bearer token obtained by exchanging a secret, renewing it before expiry.

    Logins go out on the tap's session, hence through its request gate like every other
    request: they count towards the parallel and rate caps, and a Retry-After on a login
    pauses every thread before the login is tried again.
    """

    header_name = "Authorization"
    source = "API"  # the source's name in messages
    api_name = "API"  # and as its streams name it (`TapStream.api_name`)
    LOGIN_PATH = ""  # what the login's URL adds to the API's base URL

    def __init__(
        self,
        *,
        api_url: str,
        session: requests.Session,
        timeout: float,
        retry: RetryPolicy,
        logger: logging.Logger,
        notices: RetryNotices,
    ) -> None:
        super().__init__()
        self._url = api_url.rstrip("/") + self.LOGIN_PATH
        self._session = session
        self._timeout = timeout
        self._logger = logger
        self._notices = notices  # the tap's: a login's retries and its streams' requests' are said together
        self._lock = threading.Lock()
        self._header_value: str | None = None
        self._renew_at: float | None = None  # time.monotonic(); None: used until the API refuses it
        self._failure: FatalAPIError | None = None  # a failed login is not tried again by other threads
        self._untrusted_expiry_said = False
        self._retry = retry
        self._login = retry.retrying(self.exchange, on_backoff=self._retrying, unreachable=self._unreachable)

    @property
    def url(self) -> str:
        """Where the login goes."""
        return self._url

    def _url_setting(self) -> str:
        return f"the setting `{API_URLS[self.api_name]}` (the API's base URL, to which the tap adds {self.LOGIN_PATH})"

    @abc.abstractmethod
    def exchange(self) -> tuple[str, float | None]:
        """One login: the Authorization header value, and the token's lifetime in seconds if known."""

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header_name] = self.current_header()
        return request

    def current_header(self) -> str:
        """The token, after logging in if there is none or it is about to expire (one thread at a time)."""
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._header_value is None or (self._renew_at is not None and time.monotonic() >= self._renew_at):
                try:
                    self._header_value, lifetime = self._login()
                except GaveUp as exc:  # a server down, or no login there (a web page, a proxy's error)
                    self._failure = GaveUp(
                        f"{str(exc).rstrip('.')}. If the {self.api_name} login is not at "
                        f"{urlsplit(self.url).path}, check {self._url_setting()}."
                    )
                    raise self._failure from None
                except FatalAPIError as exc:
                    self._failure = exc
                    raise
                self._renew_at = None
                if lifetime is not None:
                    self._renew_at = time.monotonic() + lifetime - min(RENEW_MARGIN_SECONDS, lifetime / 10)
            return self._header_value

    def invalidate(self, rejected_header: str | None, refusal: str) -> None:
        """Forget the token the server rejected, unless another thread already renewed it; said once per token."""
        with self._lock:
            if rejected_header is None or rejected_header == self._header_value:
                if self._header_value is not None:
                    self._logger.info("%s; logging in again.", refusal)
                self._header_value = None

    def lifetime(self, expires_at: float, response: requests.Response) -> float | None:
        """Seconds until `expires_at` (epoch seconds) by the server's clock (its Date header, else
        ours); None when that is not in the future: the token is then used until it is refused."""
        now = time.time()
        date = response.headers.get("Date")
        if date:
            with contextlib.suppress(TypeError, ValueError):
                now = parsedate_to_datetime(date).timestamp()
        if expires_at > now:
            return expires_at - now
        if not self._untrusted_expiry_said:
            self._untrusted_expiry_said = True
            self._logger.info(
                "%s's login answer gives a token expiry that is not after the server's own time (a skewed or "
                "local clock?): the token is used until %s refuses it.",
                self.source, self.source,
            )  # fmt: skip
        return None

    def _post(self, **kwargs: t.Any) -> requests.Response:
        """The login's answer: a 200, or a refusal of the credentials (`REFUSALS`) for `exchange` to word."""
        try:
            response = self._session.post(self.url, timeout=self._timeout, **kwargs)
        except requests.exceptions.RequestException as exc:
            msg = f"Could not reach {self.url} to log in ({type(exc).__name__})"
            raise RetriableAPIError(msg) from None
        error = retry_later(response, f"Login at {self.url}", longest_wait=self._retry.longest_wait)
        if error is not None:
            raise error
        if response.status_code != 200 and response.status_code not in REFUSALS:  # no login answers here
            msg = (
                f"The {self.api_name} login at {urlsplit(self.url).path} answered {response.status_code} "
                f"({api_message(response)}): no {self.api_name} login answers there. Check {self._url_setting()}."
            )
            raise LoginError(msg)
        return response

    def _retrying(self, details: t.Any) -> None:
        error = details.get("exception")
        self._notices.backing_off(
            self.api_name,
            error,
            details.get("wait") or 0.0,
            what=error,
            tries=details.get("tries"),
            of=self._retry.tries,
        )

    def _unreachable(self, error: BaseException) -> str:
        return f"could not reach {self.url} to log in ({type(error).__name__})"


class LiineAuthenticator(ExchangedTokenAuthenticator):
    """`POST /call_log/authenticate/` with username and password; the token comes as `bearer ...`."""

    source = "Liine"
    api_name = "Liine"
    LOGIN_PATH = "/call_log/authenticate/"

    def __init__(self, *, username: str, password: str, **kwargs: t.Any) -> None:
        self._username = username
        self._password = password
        super().__init__(**kwargs)

    def exchange(self) -> tuple[str, float | None]:
        response = self._post(json={"username": self._username, "password": self._password})
        if response.status_code != 200:
            msg = (
                f"Liine refused the login of user {self._username!r} ({response.status_code}: "
                f"{api_message(response)}). Check the settings `username` and `password`."
            )
            raise LoginError(msg)
        try:
            body = response.json()
            token = body["token"]
            expires = parse_datetime(body["valid_until"]).timestamp()
        except (ValueError, KeyError, TypeError, AttributeError):
            msg = f"Liine's login answer at {self._url} lacks a readable `token` and `valid_until`."
            raise RetriableAPIError(msg, response) from None
        # The token already carries its scheme ("bearer ..."): send it as returned.
        return str(token), self.lifetime(float(expires), response)


class ConversationsAuthenticator(ExchangedTokenAuthenticator):
    """`POST /authenticates` with `Authorization: <api key>`; answers `{"code": true, "data": {"token": ...}}`."""

    source = "The conversations API"
    api_name = "Conversations"
    ACCEPT = "application/vnd.Nexhealth+json;version=2"
    DEFAULT_LIFETIME_SECONDS = 3600.0
    LOGIN_PATH = "/authenticates"

    def __init__(self, *, api_key: str, **kwargs: t.Any) -> None:
        self._api_key = api_key
        super().__init__(**kwargs)

    def exchange(self) -> tuple[str, float | None]:
        response = self._post(headers={"Authorization": self._api_key, "Accept": self.ACCEPT})
        if response.status_code != 200:
            raise LoginError(self._refused(f"{response.status_code}: {api_message(response)}"))
        # A 200 body holds the token: never quote it.
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("code") is False:
            raise LoginError(self._refused(str(body.get("description") or "code: false")))
        token = (
            body.get("data", {}).get("token") if isinstance(body, dict) and isinstance(body.get("data"), dict) else None
        )
        if not token:
            msg = f"The conversations API's login answer at {self._url} was unreadable or held no token."
            raise RetriableAPIError(msg, response)
        expires = _jwt_expiry(token)
        return f"Bearer {token}", self.DEFAULT_LIFETIME_SECONDS if expires is None else self.lifetime(expires, response)

    @staticmethod
    def _refused(detail: str) -> str:
        return f"The conversations API refused the API key ({detail}). Check the setting `conversations_api_key`."


def _jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT, if the token is one (the API does not state the lifetime)."""
    import base64

    import orjson

    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return float(claims["exp"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
