"""`conversations` and `conversation_messages`: every field of the documented response."""

from __future__ import annotations

from tap_liine.schemas.fields import (
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

SENDER_INFO = nullable(
    "object",
    additionalProperties=True,
    properties={"name": STRING, "image": STRING, "meta_type": STRING, "user_id": INTEGER},
)

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
        "created_at_with_tz": DATETIME,
        "timezone_offset": STRING,
    },
    required_keys=("id", "location_id"),
)
