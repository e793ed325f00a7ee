"""The tap's errors, and turning an API's error response into one readable sentence, without secrets."""

from __future__ import annotations

import decimal
import re

import orjson
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

_SPACE = re.compile(r"\s+")
MAX_MESSAGE = 300
# Where an API puts its own words about an error. Nothing else of a body is quoted: a body
# that is not an error envelope may be data (patients, messages), and a log keeps what it gets.
ENVELOPE_KEYS = ("detail", "message", "description", "error")


def api_message(response: requests.Response) -> str:
    """The API's own words from its error envelope, clipped; else what the body is, not what it holds."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return body_shape(response.content, response.headers.get("Content-Type"))
    return envelope_words(body) or body_shape(response.content, response.headers.get("Content-Type"), body)


def envelope_words(body: object) -> str:
    """`detail`/`message`/`description`/`error` of a JSON object (strings, or lists of strings), clipped."""
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    for key in ENVELOPE_KEYS:
        value = body.get(key)
        for part in value if isinstance(value, list) else [value]:
            if isinstance(part, str) and part.strip():
                parts.append(part)
    return _clip("; ".join(dict.fromkeys(parts)))


def json_type(value: object) -> str:
    """A value's JSON type (null, boolean, number, string, array, object), for messages that must
    not quote the value. Bodies are decoded with decimals as Decimal (http.py): numbers too."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), type(value).__name__)


def a_json_type(value: object) -> str:
    """`json_type` in a sentence: "a number", "an array", "null"."""
    kind = json_type(value)
    return kind if kind == "null" else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def body_shape(content: bytes, content_type: str | None, body: object = None) -> str:
    """E.g. "a JSON object with fields code, data, count" or "a text/html body of 512 bytes"."""
    if isinstance(body, dict):
        fields = ", ".join(str(key) for key in list(body)[:12]) + (", ..." if len(body) > 12 else "")
        return _clip(f"a JSON object with fields {fields}" if body else "an empty JSON object")
    if isinstance(body, list):
        return f"a JSON array of {len(body)} items"
    if body is not None:
        return f"a JSON {json_type(body)}"
    if not content:
        return "an empty body"
    kind = (content_type or "").split(";")[0].strip() or "non-JSON"
    return f"a {kind} body of {len(content)} bytes"


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
    """The credentials were refused, or the login went where no login is: retrying cannot help."""


class GaveUp(FatalAPIError):
    """A request's tries ran out (retries.py)."""


class RunStopped(Exception):
    """The run cannot go on, for a reason said in one sentence (no traceback helps the user)."""


class Cancelled(BaseException):
    """SIGTERM or SIGINT (an orchestrator's cancel): stop, write the state of what was emitted, exit non-zero.

    A BaseException, as KeyboardInterrupt is: no `except Exception` on the way may swallow it."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(f"Cancelled by {signal_name}")
        self.signal_name = signal_name
        self.exit_code = exit_code
