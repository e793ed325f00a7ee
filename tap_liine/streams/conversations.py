"""`conversations` and `conversation_messages`: patient conversations, one location at a time.

Messages come inside the conversations' own responses (`include_messages=true`, with
`messages` set high so that no reading of its default cuts them short), so
`conversation_messages` is a child stream that reads them from its parent's pages
instead of sending requests of its own. The parent syncs it once per group of up to
`MESSAGE_GROUP` conversations it has written (not once per conversation, as the SDK would):
with BATCH messages that is one file per group, and the log has one METRIC line per
location. Messages are kept only until their group is synced, not at all when the child
is deselected, and dropped with their conversation when a stream map filters it away.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from singer_sdk import metrics
from singer_sdk.exceptions import FatalAPIError

from tap_liine.auth import ConversationsAuthenticator
from tap_liine.errors import body_shape, envelope_words
from tap_liine.instants import parse_datetime
from tap_liine.pagination.conversations_passes import PageToken, PassesPaginator
from tap_liine.schemas.conversations import CONVERSATION_MESSAGES, CONVERSATIONS
from tap_liine.sdk_seams import ChildSyncsQuiet, OpenCounter, SilentTimer
from tap_liine.settings import MAX_CONVERSATIONS_PAGE, location_id
from tap_liine.streams.base import TapStream

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

# Messages asked per conversation. The document gives no default for `messages`; a server
# may send only the latest few when it is absent. A conversation that comes with exactly
# this many may have more, which the tap says.
MESSAGES_PER_CONVERSATION = 1000
MESSAGE_GROUP = 500  # conversations whose messages are synced together


class ConversationsStream(TapStream):
    name = "conversations"
    api_name = "Conversations"
    path = "/conversations"
    primary_keys = ("id",)
    replication_key = "updated_at"
    state_partitioning_keys = ("location_id",)
    schema = CONVERSATIONS
    empty_page: t.ClassVar[t.Any] = {"code": True, "data": [], "count": None}

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        # Messages of conversations fetched but not yet synced by the child stream.
        self.pending_messages: dict[t.Any, list[dict[str, t.Any]]] = {}
        self._group: list[t.Any] = []  # conversations written whose messages wait for their group

    @property
    def messages(self) -> ConversationMessagesStream | None:
        """The child stream, when it is selected."""
        child = next((c for c in self.child_streams if isinstance(c, ConversationMessagesStream)), None)
        return child if child is not None and child.selected else None

    @property
    def http_headers(self) -> dict[str, str]:
        return {"Accept": ConversationsAuthenticator.ACCEPT}

    @property
    def partitions(self) -> list[dict[str, t.Any]]:
        # Ids given as numbers are the same locations: one spelling keeps their state partitions stable.
        locations = self.config.get("conversations_location_ids") or []
        return [{"location_id": location_id(location)} for location in locations]

    @property
    def messages_wanted(self) -> bool:
        return self.messages is not None

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

    def walk_finished(self) -> bool:
        return t.cast("PassesPaginator", self._local.paginator).finish()

    def check_envelope(self, body: t.Any, where: str) -> None:
        failed = isinstance(body, dict) and str(body.get("code")).lower() == "false"
        if failed or not isinstance(body, dict) or not isinstance(body.get("data"), list):
            # The API's own words if it gave any; else the body's shape: it may hold patients.
            detail = envelope_words(body) or f"no `data` list in {body_shape(b'', None, body)}"
            msg = f"{where} reported an error: {detail}"
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
            # The SDK has written it by now (or a stream map has filtered it away).
            if self.messages is not None and self.stream_maps[0].get_filter_result(record):
                self._group.append(record.get("id"))
                if len(self._group) >= MESSAGE_GROUP:
                    self._sync_messages(t.cast("Context", context))
            else:
                self.pending_messages.pop(record.get("id"), None)

    def _sync_messages(self, context: Context) -> None:
        """The messages of the conversations written since the last group, as one child sync."""
        group, self._group = self._group, []
        if group and self.messages is not None:
            self.messages.sync({"location_id": context["location_id"], "conversation_ids": group})

    def partition_done(self, context: Context) -> None:
        self._sync_messages(context)

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any]:  # noqa: ARG002
        # `location_id` is added by the SDK from the partition; the subdomain is ours to add.
        row["subdomain"] = self.config["conversations_subdomain"]
        return row

    def generate_child_contexts(
        self,
        record: dict[str, t.Any],  # noqa: ARG002
        context: Context | None,  # noqa: ARG002
    ) -> t.Iterable[dict[str, t.Any]]:
        return ()  # the child is synced per group of conversations, see get_records

    def finish_partition(self, context: Context) -> None:
        if self.messages is not None:  # its bookmark is saved when the location's conversations are out
            self.save_progress(self.messages.location_done(context, complete=self.read_to_proof(context)))
        super().finish_partition(context)


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
        self.logger.addFilter(ChildSyncsQuiet())
        self._counter = OpenCounter(metrics.Metric.RECORD_COUNT, {metrics.Tag.STREAM: self.name})

    def get_record_counter(self, **_: t.Any) -> metrics.Counter:
        return self._counter

    def get_sync_timer(self) -> metrics.Timer:
        return SilentTimer(metrics.Metric.SYNC_DURATION, {metrics.Tag.STREAM: self.name})

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        assert context is not None
        parent = t.cast("ConversationsStream", self.owner.streams["conversations"])
        since = self.updated_since(context)
        self.tally("records", 0, context)
        for conversation in context["conversation_ids"]:
            for message in self.conform(parent.pending_messages.pop(conversation, [])):
                if message.get("updated_at") and parse_datetime(message["updated_at"]) < since:
                    continue  # before start_date, or unchanged since the last run
                message.setdefault("conversation_id", conversation)
                message["location_id"] = context["location_id"]
                self.tally("records", 1, context)
                yield message

    def get_new_paginator(self) -> None:
        return None

    def location_done(self, context: Context, *, complete: bool) -> t.Callable[[], None]:
        """A location's conversations are written: log its messages' count, and return the
        change that writes their bookmark (the parent saves it with its own)."""
        self._counter.with_context({"location_id": context["location_id"]})
        self._counter.exit()
        key, state = self.partition_key(context), self.get_context_state(context)
        return lambda: self.bookmarks.finish(key, state, complete=complete)
