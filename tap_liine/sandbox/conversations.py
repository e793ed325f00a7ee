"""Simulated patient-conversations API (`api-docs/conversations-api.txt`, NexHealth-like).

`POST /authenticates` trades the API key (sent as `Authorization: <key>`) for a JWT-shaped
bearer token; `GET /conversations` is scoped by `subdomain` and `location_id`, pages by
number (`per_page` silently capped) and answers in the documented envelope: `code`,
`description`, `error`, `data`, `count`. What the document leaves open (the order, what
`count` is, which messages come, whether rows change while a client pages) follows
`readings` (see readings.py).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import random
import secrets
import threading
import time
import typing as t

import msgspec
import orjson

from tap_liine.sandbox.conversations_query import ConversationQuery, iso_millis
from tap_liine.sandbox.liine_data import ANCHOR, NAMES, PLANTED
from tap_liine.sandbox.readings import Readings, reported_count
from tap_liine.sandbox.server import ENCODER, ChangesLater, Request, Response, TokenExpired

UTC = dt.timezone.utc
MAX_PER_PAGE = 100
LATEST_MESSAGES = 5  # `conversations.messages=latest-5`: what comes when `messages` is not sent
CHURN = ("update", "delete", "create", "create-backdated")
CHURN_ROUNDS = 3  # `conversations.churn=while-paging`: three of each per location
BODIES = ("Hi! Can I move my cleaning to Tuesday?", "Yes 👍", "", "Your appointment is confirmed ✅",
          "¿Aceptan seguro dental?", "Thanks!! 😊🦷", "Please call us at (919) 555-0100.")  # fmt: skip


def _plant_patient(patient: dict[str, t.Any], conversation_id: int) -> dict[str, t.Any]:
    name = f"{PLANTED} Patient {conversation_id}"
    return {
        **patient,
        "email": f"{PLANTED}.{conversation_id}@example.com",
        "first_name": PLANTED,
        "last_name": f"Patient {conversation_id}",
        "name": name,
        "bio": {**patient["bio"], "phone_number": f"+1919{PLANTED}{conversation_id}"},
    }


@dataclasses.dataclass
class Conversation:
    id: int
    location_id: str
    created: dt.datetime
    updated: dt.datetime
    patient: dict[str, t.Any]
    messages: list[dict[str, t.Any]]


# `conversations.order`: how a location's list is sorted.
ORDERS: dict[str, t.Callable[[Conversation], t.Any]] = {
    "id": lambda c: c.id,
    "updated-asc": lambda c: (c.updated, c.id),
    "updated-desc": lambda c: (-c.updated.timestamp(), -c.id),
    "created": lambda c: (c.created, c.id),
}


class ConversationsApi:
    def __init__(
        self,
        *,
        subdomain: str = "bright-smiles",
        locations: t.Sequence[str] = ("3001", "3002"),
        conversations_per_location: int = 150,
        max_messages: int = 30,
        seed: int = 7,
        api_key: str = "demo-conversations-key",
        token_lifetime: float = 3600.0,
        max_per_page: int = MAX_PER_PAGE,
        empty_locations: t.Sequence[str] = (),
        ignore_page: bool = False,
        readings: t.Mapping[str, str] | None = None,
        planted: bool = False,
    ) -> None:
        self.planted = planted  # distinctive patient details and message bodies, see `_plant`
        self.subdomain = subdomain
        self.locations = list(locations) + list(empty_locations)
        self.ignore_page = ignore_page  # a broken server that always sends page 1
        self.api_key = api_key
        self.token_lifetime = token_lifetime
        self.readings = readings if isinstance(readings, Readings) else Readings(readings)
        self.max_per_page = min(max_per_page, int(self.readings["conversations.per_page"]))
        # Conversations changed by `conversations.churn`, and the messages that came with the changes.
        self.churned: dict[str, list[int]] = {"update": [], "delete": [], "create": [], "messages": []}
        self._churn_left = {
            location: list(CHURN) * CHURN_ROUNDS if self.readings["conversations.churn"] == "while-paging" else []
            for location in self.locations
        }
        self._deleted: dict[int, list[int]] = {}  # conversation id -> its message ids
        self.tokens: dict[str, float] = {}
        self.logins = 0
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._next_message_id = 900_000
        self.conversations: dict[str, list[Conversation]] = {}
        self._next_id = 5000
        for location in self.locations:
            items = []
            for _ in range(conversations_per_location):
                items.append(self._new_conversation(self._next_id, location, max_messages))
                self._next_id += 1
            self.conversations[location] = items if location not in empty_locations else []
        self._later = ChangesLater(self.add_messages)  # `conversations/add-messages-later`

    # ----- data ---------------------------------------------------------------------

    def _new_conversation(
        self, conversation_id: int, location: str, max_messages: int, created: dt.datetime | None = None
    ) -> Conversation:
        rng = self._rng
        created = created or ANCHOR - dt.timedelta(seconds=rng.randint(3600, 300 * 86400))
        first, last = rng.choice(NAMES).split(" ", 1)
        patient = {
            "id": 70_000 + conversation_id,
            "email": f"patient{conversation_id}@example.com" if rng.random() < 0.8 else None,
            "first_name": first,
            "middle_name": rng.choice(("J.", None)),
            "last_name": last,
            "name": f"{first} {last}",
            "created_at": iso_millis(created - dt.timedelta(days=rng.randint(1, 900))),
            "updated_at": iso_millis(created),
            "institution_id": 42,
            "foreign_id": str(rng.randint(1000, 99999)),
            "foreign_id_type": "msg-dentrix",
            "bio": {
                "date_of_birth": f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-{rng.randint(10, 28)}",
                "phone_number": f"+1919555{rng.randint(1000, 9999)}",
                "gender": rng.choice(("Female", "Male", None)),
            },
            "inactive": rng.random() < 0.05,
            "last_sync_time": iso_millis(created),
            "guarantor_id": rng.choice((None, 70_000 + conversation_id)),
            "unsubscribe_sms": rng.random() < 0.03,
        }  # fmt: skip
        if self.planted:
            patient = _plant_patient(patient, conversation_id)
        conversation = Conversation(conversation_id, location, created, created, patient, [])
        moment = created
        for _ in range(rng.randint(0, max_messages)):
            moment += dt.timedelta(seconds=rng.randint(30, 6 * 3600))  # answers come in minutes to hours
            if moment > max(ANCHOR, created):
                break
            self._add_message(conversation, moment)
        return conversation

    def _add_message(self, conversation: Conversation, moment: dt.datetime) -> dict[str, t.Any]:
        rng = self._rng
        self._next_message_id += 1
        from_patient = rng.random() < 0.5
        attached = rng.random() < 0.1
        offset = "-05:00"
        message = {
            "id": self._next_message_id,
            "body": rng.choice(BODIES),
            "created_at": iso_millis(moment),
            "updated_at": iso_millis(moment),
            "conversation_id": conversation.id,
            "seen_by": [] if from_patient else [f"staff-{rng.randint(1, 4)}"],
            "user_id": None if from_patient else rng.randint(1, 4),
            "attachment_file_name": "xray.png" if attached else None,
            "attachment_content_type": "image/png" if attached else None,
            "attachment_file_size": rng.randint(10_000, 4_000_000) if attached else None,
            "attachment_updated_at": iso_millis(moment) if attached else None,
            "sms_msg_id": rng.randint(10**9, 10**10),
            "sender_info": {
                "name": conversation.patient["name"] if from_patient else "Front Desk",
                "image": None if from_patient else "https://cdn.example/staff.png",
                "meta_type": "Patient" if from_patient else "User",
                "user_id": None if from_patient else 3,
            },
            "attachment_url": "https://files.example/xray.png" if attached else None,
            "is_custom_reminder_response": rng.random() < 0.05,
            "created_at_with_tz": (moment.astimezone(dt.timezone(dt.timedelta(hours=-5)))).isoformat(),
            "timezone_offset": offset,
        }
        if self.planted:
            message["body"] = f"{PLANTED} body {message['id']}"
        conversation.messages.append(message)
        conversation.updated = max(conversation.updated, moment)
        return message

    @staticmethod
    def conversation_body(conversation: Conversation, messages: list[dict[str, t.Any]] | None) -> dict[str, t.Any]:
        body: dict[str, t.Any] = {
            "id": conversation.id,
            "created_at": iso_millis(conversation.created),
            "updated_at": iso_millis(conversation.updated),
            "patient": conversation.patient,
        }
        if messages is not None:
            body["messages"] = messages
        return body

    # ----- HTTP -----------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, t.Callable[[Request], Response]]]:
        return [("POST", "/authenticates", self.authenticate), ("GET", "/conversations", self.list_conversations)]

    def authenticate(self, request: Request) -> Response:
        if request.headers.get("authorization") != self.api_key:
            return _envelope(401, None, "Invalid API key", ["The API key is missing or not valid."])
        expires = time.time() + self.token_lifetime
        claims = {"sub": "api-user", "exp": int(expires), "nbf": int(time.time()), "jti": secrets.token_hex(8)}
        token = ".".join(_b64(part) for part in (b'{"alg":"HS256"}', orjson.dumps(claims), secrets.token_bytes(24)))
        with self._lock:
            self.tokens[token] = expires
            self.logins += 1
        return _envelope(200, {"token": token}, "Authenticated", [])

    def list_conversations(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expires = self.tokens.get(token)
        if scheme.lower() != "bearer" or expires is None or expires < time.time():
            return _envelope(401, None, "Unauthorized", ["The bearer token is missing, invalid or expired."])
        if request.revoke_token:
            self.tokens.pop(token, None)
            raise TokenExpired
        try:
            query = ConversationQuery.parse(request, self.max_per_page)
        except ValueError as exc:
            return _envelope(400, None, "Bad Request", [str(exc)])
        if query.subdomain != self.subdomain or query.location_id not in self.conversations:
            # This API reports scope errors in the envelope, with a 200 status.
            return _envelope(200, None, "Institution or location not found", [f"location_id {query.location_id}"])
        self._later.request_arrived()
        with self._lock:
            if query.page >= 2 and self._churn_left[query.location_id]:
                self._churn(query)
            if self.ignore_page:
                query = dataclasses.replace(query, page=1)
            by_conversation = self.readings["conversations.updated_since"] == "conversations"
            matching = [
                c
                for c in self.conversations[query.location_id]
                if query.updated_since is None or not by_conversation or c.updated >= query.updated_since
            ]
            matching.sort(key=ORDERS[self.readings["conversations.order"]])
            page = matching[(query.page - 1) * query.per_page : query.page * query.per_page]
            data = [self.served(self.conversation_body(c, self._messages_of(query, c))) for c in page]
        refusal = self.readings["conversations.past_last_page"]
        if not page and query.page > 1 and refusal != "empty":  # page 1 may be empty, as in DRF
            return Response.json(int(refusal), {"detail": "Invalid page."})
        reading = self.readings["conversations.count"]
        count: t.Any = reported_count("total" if reading == "string" else reading, len(matching), len(page))
        count = str(count) if reading == "string" else count
        envelope = _envelope(200, data, "Conversations", [], count=count)
        if self.readings["conversations.numbers"] == "strings":
            envelope.body = ENCODER.encode(_stringified(msgspec.json.decode(envelope.body)))
        return envelope

    def served(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        """A conversation as this reading of the API writes it (a copy: what is stored stays as generated)."""
        precision = self.readings["conversations.precision"] == "beyond-int64"
        nested = self.readings["conversations.sender_info"] == "nested"
        local = self.readings["conversations.offsets"] == "local"
        if not (precision or nested or local):
            return body
        body = {**body, "patient": dict(body["patient"])}
        if local:
            _local_times(body, "created_at", "updated_at")
            _local_times(body["patient"], "created_at", "updated_at", "last_sync_time")
        messages = []
        for original in body.get("messages") or []:
            message = dict(original)
            if precision and message["id"] % 3 == 0:
                message["sms_msg_id"] = 2**64 + message["id"]
            if nested:
                message["sender_info"] = _nested_sender_info(message["sender_info"])
            if local:
                _local_times(message, "created_at", "updated_at", "attachment_updated_at")
            messages.append(message)
        if "messages" in body:
            body["messages"] = messages
        return body

    def add_messages(self, conversation_ids: t.Iterable[int]) -> list[int]:
        """A new message in each of these conversations, now (which updates the conversation)."""
        wanted = set(conversation_ids)
        now = dt.datetime.now(UTC)
        with self._lock:
            return [
                self._add_message(conversation, now)["id"]
                for items in self.conversations.values()
                for conversation in items
                if conversation.id in wanted
            ]

    def _messages_of(self, query: ConversationQuery, conversation: Conversation) -> list[dict[str, t.Any]] | None:
        latest = LATEST_MESSAGES if self.readings["conversations.messages"] == "latest-5" else None
        messages = query.messages_of(conversation, default_latest=latest)
        if messages is not None and query.updated_since and self.readings["conversations.updated_since"] == "messages":
            since = iso_millis(query.updated_since)
            messages = [m for m in messages if m["updated_at"] >= since]
        return messages

    def _churn(self, query: ConversationQuery) -> None:
        """One change among the rows already served: rows behind it shift (a skipped or repeated row)."""
        kind = self._churn_left[query.location_id].pop(0)
        items = self.conversations[query.location_id]
        served = sorted(items, key=ORDERS[self.readings["conversations.order"]])
        target = served[min(len(served) - 1, (query.page - 2) * query.per_page + 1)]
        now = dt.datetime.now(UTC)
        if kind == "update":
            self.churned["messages"].append(self._add_message(target, now)["id"])
        elif kind == "delete":
            items.remove(target)
            self._deleted[target.id] = [m["id"] for m in target.messages]
        else:
            # Created now, or late-arriving: back-dated to just before a row already served (the
            # `created` order puts it among the pages read), its first message now.
            created = now if kind == "create" else target.created - dt.timedelta(seconds=1)
            target = self._new_conversation(self._next_id, query.location_id, 0, created=created)
            self._next_id += 1
            self.churned["messages"].append(self._add_message(target, now)["id"])
            items.append(target)
            kind = "create"
        self.churned[kind].append(target.id)

    # ----- admin ----------------------------------------------------------------------------

    def admin(self, name: str, request: Request) -> Response | None:
        if name == "conversations/truth":

            def truth(c: Conversation) -> dict[str, t.Any]:
                return {"id": c.id, "updated_at": iso_millis(c.updated), "message_ids": [m["id"] for m in c.messages]}

            by_location = {location: [truth(c) for c in items] for location, items in self.conversations.items()}
            return Response.json(200, by_location)
        if name == "conversations/add-messages" and request.method == "POST":
            added = self.add_messages((request.json() or {}).get("conversation_ids", []))
            return Response.json(200, {"message_ids": added})
        if name == "conversations/add-messages-later" and request.method == "POST":
            # {"conversation_ids": [...], "after": N}: when the N+1-th conversations request from now arrives.
            spec = request.json() or {}
            self._later.plan(int(spec.get("after", 0)), list(spec.get("conversation_ids", [])))
            return Response.json(200, {"ok": True})
        if name == "conversations/stats":
            return Response.json(200, {"logins": self.logins})
        if name == "conversations/churned":
            deleted = {str(conversation): ids for conversation, ids in self._deleted.items()}
            return Response.json(200, {**self.churned, "deleted_messages": deleted})
        return None

    def error_body(self, status: int, message: str) -> dict[str, t.Any]:  # noqa: ARG002
        return {"code": False, "description": message, "error": [message], "data": None}


def _envelope(status: int, data: t.Any, description: str, errors: list[str], count: t.Any = None) -> Response:
    payload: dict[str, t.Any] = {
        "code": bool(data is not None),
        "description": description,
        "error": errors,
        "data": data,
    }
    if count is not None:
        payload["count"] = count
    return Response.json(status, payload)


def _stringified(value: t.Any) -> t.Any:
    """Every number and boolean as a JSON string, at any depth (the document's sample shows "<integer>")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {k: _stringified(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringified(v) for v in value]
    return value


PRACTICE_OFFSET = dt.timezone(dt.timedelta(hours=-5))


def _local_times(row: dict[str, t.Any], *fields: str) -> None:
    """`conversations.offsets=local`: these date-times at the practice's offset, to the millisecond."""
    for field in fields:
        if row.get(field):
            moment = dt.datetime.fromisoformat(row[field].replace("Z", "+00:00"))
            row[field] = moment.astimezone(PRACTICE_OFFSET).isoformat(timespec="milliseconds")


def _nested_sender_info(flat: dict[str, t.Any]) -> dict[str, t.Any]:
    """`conversations.sender_info=nested`: each field an object, as the document's sample shows."""
    first, _, last = (flat.get("name") or "").partition(" ")
    return {
        "name": {"value": {"first": first, "last": last}, "aliases": [flat.get("name"), None]},
        "image": {"value": flat.get("image")},
        "meta_type": {"value": flat.get("meta_type")},
        "user_id": {"value": flat.get("user_id")},
    }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
