"""`interactions`: every field of the Liine document's "Interaction Fields" table."""

from __future__ import annotations

from tap_liine.schemas.fields import (
    BOOLEAN,
    DATETIME,
    INTEGER,
    NUMBER,
    OBJECT,
    STRING,
    STRINGS,
    Schema,
    object_schema,
    required,
)

_TOUCH_STRINGS = ("marketing_channel", "location", "division", "keyword", "landing_url", "referrer_url",
                  "utm_source", "utm_medium", "utm_campaign", "utm_content")  # fmt: skip

_STRINGS = (
    "lead_id", "call_id", "interaction_type", "direction", "phone_number", "status", "session_guid",
    "attribution_session_guid", "call_type", "call_status", "agent", "agent_location_name", "outcome",
    "reason_not_booked", "intent_level", "name", "city", "state", "email", "tracking_number",
    "google_analytics_client_id", "spam_likely_reason", "salient_interaction", "sara_lead_id_reason",
    "ehr_pms_patient_id", "primary_insurance_name", "appointment_location", "appointment_status",
)  # fmt: skip
_BOOLEANS = (
    "analyze_complete", "call_complete", "is_booked_later", "has_audio", "voicemail", "first_time_interaction",
    "is_analyzed", "is_new", "is_existing_patient", "show_messaging", "review_complete", "manually_created",
    "helper_cell", "is_spam_likely", *(f"messaging_skill_{n}" for n in range(1, 8)),
)  # fmt: skip
# "number" in the document; ids are whole numbers, the measures may not be.
_INTEGERS = (
    "customer_id",
    "agent_id",
    "booked_later_interaction_id",
    "related_form_submission_id",
    "form_submission_id",
)
_NUMBERS = ("duration", "messaging_utilization", "revenue")
_DATETIMES = ("start_time_tz", "updated_at")  # instants, in UTC
# The practice's wall-clock time, which the API writes with a "Z" although it is no UTC
# instant: typed as the string it is, so no warehouse presents it as one (the README's
# time policy). `start_time_tz` is the same moment in UTC.
START_TIME = {
    "type": ["string", "null"],
    "description": "When the interaction started, on the practice's wall clock (its local time zone), as the API "
    "writes it (YYYY-MM-DDTHH:MM:SSZ, the Z notwithstanding). For the instant use start_time_tz.",
}

PROPERTIES: dict[str, Schema] = {
    "id": required(INTEGER),
    **{name: STRING for name in _STRINGS},
    **{f"{touch}_{name}": STRING for touch in ("initial", "last_touch") for name in _TOUCH_STRINGS},
    "initial_session_extras": OBJECT,
    "last_touch_session_extras": OBJECT,
    **{name: BOOLEAN for name in _BOOLEANS},
    **{name: INTEGER for name in _INTEGERS},
    **{name: NUMBER for name in _NUMBERS},
    **{name: DATETIME for name in _DATETIMES},
    "start_time": START_TIME,
    "provider_names": STRINGS,
}
PROPERTIES["customer_id"] = required(INTEGER)

SCHEMA = object_schema(PROPERTIES, required_keys=("id", "customer_id"))
