"""Row counts a full extraction of a sandbox must land, per stream (the ground truth)."""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.liine_data import UTC


def expected_rows(apis: t.Sequence[t.Any], config: t.Mapping[str, t.Any]) -> dict[str, int]:
    """What the tap must emit for `config` (default filters) from these simulated APIs."""
    start = dt.datetime.fromisoformat(str(config["start_date"]).replace("Z", "+00:00"))
    today = dt.datetime.now(UTC).date()
    counts: dict[str, int] = {}
    for api in apis:
        if isinstance(api, LiineApi):
            counts["interactions"] = len(api.expected_ids(config.get("customer_ids", []), start.date()))
        elif isinstance(api, ConversationsApi):
            chosen = [
                c
                for loc in config.get("conversations_location_ids", [])
                for c in api.conversations.get(loc, [])
                if c.updated >= start
            ]
            counts["conversations"] = len(chosen)
            since = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            counts["conversation_messages"] = sum(m["updated_at"] >= since for c in chosen for m in c.messages)
        elif isinstance(api, InteractlyApi):
            integrations = config.get("interactly_integration_ids", [])
            kinds = len(config.get("appointment_types") or ["all"])
            counts["appointment_statistics"] = len(integrations) * kinds * ((today - start.date()).days + 1)
            counts["appointment_trends"] = sum(
                len({a.at.date() for a in api.appointments.get(i, []) if a.at.date() >= start.date()})
                for i in integrations
            )
    return counts
