"""Authenticators: Liine's JWT login and the conversations token exchange.

Both trade a secret for a short-lived token. `ExchangedTokenAuthenticator` holds one token
per tap (shared by every stream and thread), renews it shortly before it expires, and can
be told that the server rejected it (a 401) so the next attempt logs in again.
"""

from __future__ import annotations

import abc
import threading
import time
import typing as t

import requests
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import RetriableAPIError

from tap_liine.errors import LoginError, RateLimited, api_message
from tap_liine.gate import retry_after
from tap_liine.instants import parse_datetime

RENEW_MARGIN_SECONDS = 60.0


class ExchangedTokenAuthenticator(APIAuthenticatorBase, abc.ABC):
    """Keeps a bearer token obtained by exchanging a secret, renewing it before expiry.

    Logins go out on the tap's session, hence through its request gate like every other
    request: they count towards the parallel and rate caps, and a 429 on a login pauses
    every thread for its Retry-After before the login is tried again.
    """

    header_name = "Authorization"

    def __init__(self, *, session: requests.Session, timeout: float) -> None:
        super().__init__()
        self._session = session
        self._timeout = timeout
        self._lock = threading.Lock()
        self._header_value: str | None = None
        self._expires_at = 0.0
        self._renew_at = 0.0
        self._refusal: LoginError | None = None  # a refused login is not tried again by other threads

    @abc.abstractmethod
    def exchange(self) -> tuple[str, float]:
        """Obtain a new token: (Authorization header value, expiry as epoch seconds)."""

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header_name] = self.current_header()
        return request

    def current_header(self) -> str:
        with self._lock:  # one login at a time, however many threads ask
            if self._refusal is not None:
                raise self._refusal
            if self._header_value is None or time.time() >= self._renew_at:
                try:
                    self._header_value, self._expires_at = self.exchange()
                except LoginError as exc:
                    self._refusal = exc
                    raise
                lifetime = max(0.0, self._expires_at - time.time())
                self._renew_at = self._expires_at - min(RENEW_MARGIN_SECONDS, lifetime / 10)
            return self._header_value

    def invalidate(self, rejected_header: str | None) -> None:
        """Forget the token the server rejected, unless another thread already renewed it."""
        with self._lock:
            if rejected_header is None or rejected_header == self._header_value:
                self._header_value = None

    def _post(self, url: str, **kwargs: t.Any) -> requests.Response:
        try:
            response = self._session.post(url, timeout=self._timeout, **kwargs)
        except requests.exceptions.RequestException as exc:
            msg = f"Could not reach {url} to log in: {type(exc).__name__}."
            raise RetriableAPIError(msg) from None
        if response.status_code == 429:
            wait = retry_after(response)
            after = "a backoff" if wait is None else f"{wait} s"
            msg = f"Login at {url} answered 429 (rate limited); retrying after {after}"
            raise RateLimited(msg, response, wait)
        if response.status_code >= 500:
            msg = f"Login at {url} answered {response.status_code}: {api_message(response)}"
            raise RetriableAPIError(msg, response)
        return response


class LiineAuthenticator(ExchangedTokenAuthenticator):
    """`POST /call_log/authenticate/` with username and password; the token comes as `bearer ...`."""

    def __init__(self, *, api_url: str, username: str, password: str, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._url = api_url.rstrip("/") + "/call_log/authenticate/"
        self._username = username
        self._password = password

    def exchange(self) -> tuple[str, float]:
        response = self._post(self._url, json={"username": self._username, "password": self._password})
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
        return str(token), float(expires)


class ConversationsAuthenticator(ExchangedTokenAuthenticator):
    """`POST /authenticates` with `Authorization: <api key>`; answers `{"code": true, "data": {"token": ...}}`."""

    ACCEPT = "application/vnd.Nexhealth+json;version=2"
    DEFAULT_LIFETIME_SECONDS = 3600.0

    def __init__(self, *, api_url: str, api_key: str, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._url = api_url.rstrip("/") + "/authenticates"
        self._api_key = api_key

    def exchange(self) -> tuple[str, float]:
        response = self._post(self._url, headers={"Authorization": self._api_key, "Accept": self.ACCEPT})
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
        return f"Bearer {token}", _jwt_expiry(token) or time.time() + self.DEFAULT_LIFETIME_SECONDS

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
