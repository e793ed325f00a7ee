"""`conversations` and `conversation_messages`: every field of the documented response."""

from __future__ import annotations

from tap_liine.schemas.fields import (
    ANY,
    BOOLEAN,
    DATETIME,
    INTEGER,
    OBJECT,
    STRING,
    STRINGS,
    nullable,
    object_schema,
    required,
)

PATIENT = nullable(
    "object",
    additionalProperties=True,
    properties={
        "id": INTEGER,
        "email": STRING,
        "first_name": STRING,
        "middle_name": STRING,
        "last_name": STRING,
        "name": STRING,
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "institution_id": INTEGER,
        "foreign_id": STRING,
        "foreign_id_type": STRING,
        "bio": OBJECT,
        "inactive": BOOLEAN,
        "last_sync_time": DATETIME,
        "guarantor_id": INTEGER,
        "unsubscribe_sms": BOOLEAN,
    },
)

# `messages` is not repeated here: each message is a row of `conversation_messages`.
CONVERSATIONS = object_schema(
    {
        "id": required(INTEGER),
        "location_id": required(STRING),
        "subdomain": STRING,
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "patient": PATIENT,
    },
    required_keys=("id", "location_id"),
)

# The document's sample fakes each of these fields as "Too many levels of nesting to fake
# this schema": their shape is undocumented (a string, an object, ...), so any JSON value is
# valid. Named all the same, so that a catalog can deselect them and maps can hash them.
SENDER_INFO = nullable(
    "object",
    additionalProperties=True,
    properties={"name": ANY, "image": ANY, "meta_type": ANY, "user_id": ANY},
)
# The message's creation on the practice's clock, with its offset: the offset is what this
# field exists for, so it is typed as the string it is and emitted as sent (a loader would
# store a date-time as a UTC instant, the offset gone). `created_at` is the instant.
CREATED_AT_WITH_TZ = {
    "type": ["string", "null"],
    "description": "When the message was created, on the practice's clock with its UTC offset, as the API writes "
    "it (e.g. 2026-10-01T10:43:02-05:00). For the instant use created_at.",
}

CONVERSATION_MESSAGES = object_schema(
    {
        "id": required(INTEGER),
        "conversation_id": INTEGER,
        "location_id": required(STRING),
        "body": STRING,
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "seen_by": STRINGS,
        "user_id": INTEGER,
        "attachment_file_name": STRING,
        "attachment_content_type": STRING,
        "attachment_file_size": INTEGER,
        "attachment_updated_at": DATETIME,
        "sms_msg_id": INTEGER,
        "sender_info": SENDER_INFO,
        "attachment_url": STRING,
        "is_custom_reminder_response": BOOLEAN,
        "created_at_with_tz": CREATED_AT_WITH_TZ,
        "timezone_offset": STRING,
    },
    required_keys=("id", "location_id"),
)
