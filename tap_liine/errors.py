"""The tap's errors, and turning an API's error response into one readable sentence, without secrets."""

from __future__ import annotations

import html
import re

import orjson
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
MAX_MESSAGE = 300


def api_message(response: requests.Response) -> str:
    """The API's own words: its JSON `detail`/`message`/`description`/`error`, else the text."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        parts = [
            _as_text(body[key])
            for key in ("detail", "message", "description", "error", "errors")
            if body.get(key) not in (None, "", [])
        ]
        if parts:
            return _clip("; ".join(dict.fromkeys(parts)))
    text = response.text or response.reason or "no message"
    return _clip(html.unescape(_TAGS.sub(" ", text)))


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _clip(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class RetryLater(RetriableAPIError):
    """An answer to retry (429, 5xx, or any error carrying Retry-After); `wait` is the seconds
    its Retry-After asked for, if it said."""

    def __init__(self, message: str, response: requests.Response, wait: float | None) -> None:
        super().__init__(message, response)
        self.wait = wait


class RateLimited(RetryLater):
    """A 429."""


class UnauthorizedRetry(RetriableAPIError):
    """A 401 on a token the tap had: log in again and retry."""


class LoginError(FatalAPIError):
    """The credentials were refused: retrying cannot help."""


class RunStopped(Exception):
    """The run cannot go on, for a reason said in one sentence (no traceback helps the user)."""


class Cancelled(BaseException):
    """SIGTERM or SIGINT (an orchestrator's cancel): stop, write the state of what was emitted, exit non-zero.

    A BaseException, as KeyboardInterrupt is: no `except Exception` on the way may swallow it."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(f"Cancelled by {signal_name}")
        self.signal_name = signal_name
        self.exit_code = exit_code
