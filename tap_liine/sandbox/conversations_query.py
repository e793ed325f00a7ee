"""One `GET /conversations` request of the simulated conversations API, parsed and checked.

Kept apart from conversations.py (the data and the routes) because the parameters are where
the document leaves most open: what a bad value earns (400 naming the parameter), how
`per_page` is capped, and which messages `include_messages`/`messages`/`messages_since` pick.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

import pendulum

if t.TYPE_CHECKING:
    from tap_liine.sandbox.conversations import Conversation
    from tap_liine.sandbox.server import Request

UTC = dt.timezone.utc
DEFAULT_PER_PAGE = 5


def iso_millis(moment: dt.datetime) -> str:
    """The API's own instant format: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclasses.dataclass
class ConversationQuery:
    subdomain: str
    location_id: str
    page: int
    per_page: int
    updated_since: dt.datetime | None
    include_messages: bool
    messages: int | None
    messages_since: dt.datetime | None

    @classmethod
    def parse(cls, request: Request, max_per_page: int) -> ConversationQuery:
        subdomain, location = request.one("subdomain"), request.one("location_id")
        if not subdomain or not location:
            raise ValueError("subdomain and location_id are required")
        page = _positive(request, "page", 1)
        per_page = min(_positive(request, "per_page", DEFAULT_PER_PAGE), max_per_page)  # silently capped
        include = (request.one("include_messages") or "false").lower()
        if include not in {"true", "false", "1", "0"}:
            raise ValueError(f"include_messages must be a boolean, got {include!r}")
        raw_messages = request.one("messages")
        return cls(
            subdomain=subdomain,
            location_id=location,
            page=page,
            per_page=per_page,
            updated_since=_moment(request, "updated_since"),
            include_messages=include in {"true", "1"},
            messages=None if raw_messages is None else _positive(request, "messages", 0),
            messages_since=_moment(request, "messages_since"),
        )

    def messages_of(self, conversation: Conversation, *, default_latest: int | None) -> list[dict[str, t.Any]] | None:
        """The messages to include: those created since `messages_since`, the latest `messages` of them
        (or `default_latest` when `messages` is not sent; None: all)."""
        if not self.include_messages:
            return None
        chosen = conversation.messages
        if self.messages_since is not None:
            since = iso_millis(self.messages_since)
            chosen = [m for m in chosen if m["created_at"] >= since]
        latest = self.messages if self.messages is not None else default_latest
        if latest is not None:
            chosen = chosen[-latest:] if latest else []
        return chosen


def _positive(request: Request, name: str, default: int) -> int:
    raw = request.one(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be 1 or more, got {value}")
    return value


def _moment(request: Request, name: str) -> dt.datetime | None:
    raw = request.one(name)
    if raw is None:
        return None
    try:
        parsed = pendulum.parse(raw.replace(" ", "+"), strict=False)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise ValueError(f"{name} must be a parseable date/time, got {raw!r}") from None
    if isinstance(parsed, dt.datetime):
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(parsed, dt.date):
        return dt.datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    raise ValueError(f"{name} must be a date or a date-time, got {raw!r}")
