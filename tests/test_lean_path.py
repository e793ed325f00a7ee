"""The lean record path emits exactly what the SDK's straightforward path emits.

Straightforward: the SDK's recursive type conformance, its default simplejson writer, the
per-record copy for deselected properties, and bodies decoded with Decimal floats. Lean:
none of those (see tap_liine/fidelity.py, which both paths run: the SDK's conformance on
top of it must change nothing). Compared type-aware, so `true` is not `1`.
"""

from __future__ import annotations

import decimal
import json

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.streams.base import TapStream
from tap_liine.tap import TapLiine
from tap_liine.writer import SchemaOnce
from tests.helpers import all_sources_config, run_tap


def _exact(value):
    """A JSON value with every type made explicit, so that 1, 1.0 and true all differ."""
    if isinstance(value, dict):
        # The signpost and a backfill's start are the moment each run started: they must differ.
        return {k: _exact(v) for k, v in value.items() if k not in {"replication_key_signpost", "started"}}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return (type(value).__name__, value)


def _canonical(run) -> list:
    out = []
    for message in run.messages:
        fields = {k: v for k, v in message.items() if k != "time_extracted"}
        out.append(_exact(json.loads(json.dumps(fields), parse_float=decimal.Decimal)))
    return out


class SimpleJSONWriter(SchemaOnce, SingerWriter):
    """The SDK's default (simplejson) writer, sending each stream's SCHEMA once as the tap's writer does."""


def test_lean_output_equals_straightforward_output(sandbox, monkeypatch) -> None:
    conversations = ConversationsApi(conversations_per_location=40)
    server = sandbox(scale=3000, quirks=True, extra_apis=[conversations, InteractlyApi(days=20)])
    # A STATE after every window: paced by the clock (the default), the two runs' STATEs would differ.
    # From October on every location has messages: an empty one's bookmark is the run's start.
    config = all_sources_config(server.url, page_size=300, start_date="2026-10-01T00:00:00Z", state_interval_seconds=0)

    lean = run_tap(config)

    monkeypatch.setattr(TapStream, "TYPE_CONFORMANCE_LEVEL", TypeConformanceLevel.RECURSIVE)
    monkeypatch.setattr(TapStream, "decode_body", lambda _self, raw: json.loads(raw, parse_float=decimal.Decimal))
    monkeypatch.setattr(TapLiine, "message_writer_class", SimpleJSONWriter)
    straightforward = run_tap(config)

    # The sample has teeth: quirks, unicode, nulls and large numbers are all in it.
    records = lean.records("interactions")
    quirky = [r for r in records if "api_added_field" in r]
    assert quirky and all(r["is_new"] is True and r["has_audio"] is False for r in quirky)
    assert any(r["revenue"] == 98_765_432_109.87 for r in quirky)
    assert any(r["api_added_field"]["big"] == 2**62 for r in quirky)
    assert any("🦷" in (r["name"] or "") for r in records)
    assert any(r["agent"] is None for r in records)
    assert lean.records("conversation_messages") and lean.records("appointment_statistics")

    assert _canonical(lean) == _canonical(straightforward)
