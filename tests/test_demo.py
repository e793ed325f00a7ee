"""`make demo`'s figures look like a dental practice's: the sandbox's Liine data, as the demo serves it."""

from __future__ import annotations

import collections
import statistics
import typing as t

from tap_liine.instants import parse_datetime
from tap_liine.sandbox.__main__ import build_parser, build_server
from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.liine import LiineApi


def demo_apis() -> list[t.Any]:
    """The APIs of the demo's sandbox (its defaults), on a free port."""
    with build_server(build_parser().parse_args(["--port", "0"])) as server:
        return server.apis


def test_the_demo_data_has_a_practices_proportions() -> None:
    """Per location most inbound calls are answered; per channel most booked patients attend."""
    [liine] = [api for api in demo_apis() if isinstance(api, LiineApi)]
    records = [liine.record(row) for row in list(liine.by_id.values())[::5]]  # 2,000 of them: quick, and enough
    calls: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    visits: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in records:
        if r["interaction_type"] == "call" and r["direction"] == "inbound" and not r["is_spam_likely"]:
            calls[r["last_touch_location"]][r["status"]] += 1
        visits[r["initial_marketing_channel"]][r["appointment_status"]] += 1

    assert len(calls) == 5 and all(location.istitle() for location in calls)  # place names, no ids
    for location, status in calls.items():
        missed = status["Not Connected"] + status["Busy"]
        assert status["Connected"] > 0.7 * sum(status.values()) and missed > 0 and status["Error"] > 0, location
    for channel, status in visits.items():
        no_shows = status["Canceled / No Show"] + status["Assumed No Show"]
        assert status["Attended"] > 2 * no_shows > 0, channel


def test_the_demo_practice_answers_patients_within_hours() -> None:
    """Per location, the median wait from a patient's first message to the staff's first reply after it."""
    [conversations] = [api for api in demo_apis() if isinstance(api, ConversationsApi)]
    for location, items in conversations.conversations.items():
        waits = []
        for conversation in items:
            senders = [(m["created_at"], m["sender_info"]["meta_type"]) for m in conversation.messages]
            asked = next((at for at, sender in senders if sender == "Patient"), None)
            replied = next((at for at, sender in senders if sender != "Patient" and asked and at > asked), None)
            if replied:
                waits.append((parse_datetime(replied) - parse_datetime(asked)).total_seconds())
        assert len(waits) > 100 and 5 * 60 < statistics.median(waits) < 2 * 3600, location
