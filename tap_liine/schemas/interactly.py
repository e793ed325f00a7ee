"""`appointment_statistics` and `appointment_trends`: Interactly dashboard figures per UTC day."""

from __future__ import annotations

from tap_liine.schemas.fields import DATETIME, INTEGER, STRING, nullable, object_schema, required

# One entry of a StatsSource list: the value (`_id`) and how many appointments had it.
STATS_SOURCE = nullable(
    "array",
    items={"type": "object", "additionalProperties": True, "properties": {"_id": STRING, "count": INTEGER}},
)

_KEYS = {
    "integration_id": required(STRING),
    "appointment_type": required(STRING),
    "date": required(DATETIME),
}

STATISTICS = object_schema(
    {
        **_KEYS,
        "total": INTEGER,
        "source": STATS_SOURCE,
        "utm_source": STATS_SOURCE,
        "utm_medium": STATS_SOURCE,
        "utm_campaign": STATS_SOURCE,
    },
    required_keys=tuple(_KEYS),
)

TRENDS = object_schema({**_KEYS, "successful": INTEGER, "failed": INTEGER}, required_keys=tuple(_KEYS))
