"""`conversations` and `conversation_messages`: patient conversations, one location at a time.

Messages come inside the conversations' own responses (`include_messages=true`, with
`messages` set high so that no reading of its default cuts them short), so
`conversation_messages` is an SDK child stream that reads them from its parent's page
instead of sending requests of its own. The SDK syncs a child once per parent record;
the child keeps that quiet (one METRIC line and no "Beginning sync" line per conversation)
and the parent keeps a conversation's messages only until the child has had them, and
not at all when the child is not selected.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

from singer_sdk import metrics
from singer_sdk.exceptions import FatalAPIError

from tap_liine.auth import ConversationsAuthenticator
from tap_liine.pagination.passes import PageToken, PassesPaginator
from tap_liine.schemas.conversations import CONVERSATION_MESSAGES, CONVERSATIONS
from tap_liine.settings import MAX_CONVERSATIONS_PAGE
from tap_liine.streams.base import TapStream
from tap_liine.windows import parse_datetime

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

# Messages asked per conversation. The document gives no default for `messages`; a server
# may send only the latest few when it is absent. A conversation that comes with exactly
# this many may have more, which the tap says.
MESSAGES_PER_CONVERSATION = 1000


class ConversationsStream(TapStream):
    name = "conversations"
    api_name = "Conversations"
    path = "/conversations"
    primary_keys = ("id",)
    replication_key = "updated_at"
    state_partitioning_keys = ("location_id",)
    schema = CONVERSATIONS

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        # Messages of conversations fetched but not yet emitted, until the child stream takes them.
        self.pending_messages: dict[t.Any, list[dict[str, t.Any]]] = {}

    @property
    def url_base(self) -> str:
        return str(self.config["conversations_api_url"]).rstrip("/")

    @property
    def http_headers(self) -> dict[str, str]:
        return {"Accept": ConversationsAuthenticator.ACCEPT}

    @property
    def partitions(self) -> list[dict[str, t.Any]]:
        return [{"location_id": location} for location in self.config.get("conversations_location_ids") or []]

    @property
    def messages_wanted(self) -> bool:
        return any(child.selected for child in self.child_streams)

    def describe(self, context: Context, task: t.Any) -> str:  # noqa: ARG002
        return f"location {context['location_id']}"

    def get_new_paginator(self) -> PassesPaginator:
        self._local.paginator = PassesPaginator(
            where=f"{self.name} of {self.where()}",
            observations=self.observations,
            per_page=int(self.config.get("conversations_page_size", MAX_CONVERSATIONS_PAGE)),
        )
        return t.cast("PassesPaginator", self._local.paginator)

    def get_url_params(self, context: Context | None, next_page_token: PageToken | None) -> dict[str, t.Any]:
        assert context is not None
        token = next_page_token or PageToken()
        params: dict[str, t.Any] = {
            "subdomain": self.config["conversations_subdomain"],
            "location_id": context["location_id"],
            "page": token.number,
            "per_page": self.config.get("conversations_page_size", MAX_CONVERSATIONS_PAGE),
            "include_messages": "true" if self.messages_wanted else "false",
        }
        if self.messages_wanted:
            params["messages"] = MESSAGES_PER_CONVERSATION
        since = parse_datetime(token.probe_since) if token.probe_since else self.updated_since(context)
        params["updated_since"] = since.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")
        return params

    def check_envelope(self, body: t.Any, where: str) -> None:
        failed = isinstance(body, dict) and str(body.get("code")).lower() == "false"
        if not isinstance(body, dict) or failed or not isinstance(body.get("data"), list):
            detail = body if not isinstance(body, dict) else "; ".join(
                str(part) for part in (body.get("description"), *(body.get("error") or [])) if part
            )  # fmt: skip
            msg = f"{where} reported an error: {detail or 'no data'}"
            raise FatalAPIError(msg)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        body = self.decoded(response)
        rows = self._local.paginator.accept(self.conform(body["data"]), count=body.get("count"))
        keep = self.messages_wanted
        for row in rows:
            messages = row.pop("messages", None) or []
            if keep:
                self._check_messages(row, messages)
                self.pending_messages[row.get("id")] = messages
        return rows

    def _check_messages(self, row: dict[str, t.Any], messages: list[dict[str, t.Any]]) -> None:
        if len(messages) >= MESSAGES_PER_CONVERSATION:
            self.observations.warn(
                f"messages-cap:{row.get('id')}",
                "conversations: conversation %s came with %d messages, as many as the tap asks for; older "
                "messages of it may be missing from conversation_messages.",
                row.get("id"), len(messages),
            )  # fmt: skip

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        for record in super().get_records(context):
            yield record
            # The SDK has synced the child for it by now, or filtered it out with a stream map.
            self.pending_messages.pop(record.get("id"), None)

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any]:  # noqa: ARG002
        # `location_id` is added by the SDK from the partition; the subdomain is ours to add.
        row["subdomain"] = self.config["conversations_subdomain"]
        return row

    def generate_child_contexts(
        self,
        record: dict[str, t.Any],
        context: Context | None,  # noqa: ARG002
    ) -> t.Iterable[dict[str, t.Any]]:
        yield {"location_id": record["location_id"], "conversation_id": record["id"]}

    def finish_partition(self, context: Context) -> None:
        for child in self.child_streams:
            if isinstance(child, ConversationMessagesStream) and child.selected:
                child.finish_location(context)
        super().finish_partition(context)


class _ChildSyncsQuiet(logging.Filter):
    """The SDK announces every child sync (one per conversation); one summary per location is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Beginning sync of", "Starting incremental sync of"))


class _OpenCounter(metrics.Counter):
    """Counts across every child sync of a location; logged per location, not per conversation."""

    def __exit__(self, *exc: object) -> None:
        """A child sync ended; the count goes on."""


class _SilentTimer(metrics.Timer):
    def __exit__(self, *exc: object) -> None:
        """No timing line per conversation."""


class ConversationMessagesStream(TapStream):
    name = "conversation_messages"
    api_name = "Conversations"
    parent_stream_type = ConversationsStream
    primary_keys = ("id",)
    replication_key = "updated_at"
    state_partitioning_keys = ("location_id",)
    schema = CONVERSATION_MESSAGES
    path = "/conversations"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger.addFilter(_ChildSyncsQuiet())
        self._counter = _OpenCounter(metrics.Metric.RECORD_COUNT, {metrics.Tag.STREAM: self.name})

    @property
    def url_base(self) -> str:
        return str(self.config["conversations_api_url"]).rstrip("/")

    def get_record_counter(self, **_: t.Any) -> metrics.Counter:
        return self._counter

    def get_sync_timer(self) -> metrics.Timer:
        return _SilentTimer(metrics.Metric.SYNC_DURATION, {metrics.Tag.STREAM: self.name})

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        assert context is not None
        parent = t.cast("ConversationsStream", self._tap.streams["conversations"])
        messages = self.conform(parent.pending_messages.pop(context["conversation_id"], []))
        since = self.updated_since(context)
        for message in messages:
            if message.get("updated_at") and parse_datetime(message["updated_at"]) < since:
                continue  # before start_date, or unchanged since the last run
            message.setdefault("conversation_id", context["conversation_id"])
            message["location_id"] = context["location_id"]
            yield message

    def get_new_paginator(self) -> None:
        return None

    def finish_location(self, context: Context) -> None:
        """The location's conversations are done: its messages' bookmark, and their count."""
        self.bookmarks.finish(self._partition_key(context), self.get_context_state(context))
        self._counter.with_context({"location_id": context["location_id"]})
        self._counter.exit()
