"""Values arrive exactly as the API has them, records match their SCHEMA, and no value reaches the log.

The sandbox plants distinctive values (tap_liine/sandbox/readings.py: `liine.precision`,
`conversations.precision`, `conversations.sender_info`, `conversations.offsets`; LiineApi's
`mistyped`): numbers a double cannot hold, integers above 2^64, `sender_info` in the nested
shapes the document's sample hints at, date-times at the practice's offset, patient details
in the wrong JSON types. Each must come out as sent (or converted as the README's
"what is kept, what is converted" says), in RECORD messages and BATCH files alike.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from singer_sdk.contrib.msgspec import encoder
from singer_sdk.exceptions import ConfigValidationError

from tap_liine.errors import RunStopped, json_type
from tap_liine.instants import parse_datetime
from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.readings import Readings
from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config, liine_config, run_tap, validate_records

PLANTED = Readings({
    "liine.precision": "beyond-double",
    "conversations.precision": "beyond-int64",
    "conversations.sender_info": "nested",
    "conversations.offsets": "local",
})  # fmt: skip
TWO_TO_64 = 2**64
INSTANTS = {"conversations": ("created_at", "updated_at"),
            "conversation_messages": ("created_at", "updated_at", "attachment_updated_at")}  # fmt: skip


def _exact(line: str) -> dict:
    return json.loads(line, parse_float=Decimal)


def _records(lines: list[str]) -> dict[str, list[dict]]:
    """RECORD messages by stream, numbers read exactly."""
    by_stream: dict[str, list[dict]] = {}
    for line in lines:
        message = _exact(line)
        if message["type"] == "RECORD":
            by_stream.setdefault(message["stream"], []).append(message["record"])
    return by_stream


def _batch_records(run, root: Path) -> dict[str, list[dict]]:
    by_stream: dict[str, list[dict]] = {}
    for message in run.messages:
        if message["type"] == "BATCH":
            for url in message["manifest"]:
                path = Path(url.removeprefix("file://"))
                assert path.parent == root
                lines = path.read_text().splitlines()
                by_stream.setdefault(message["stream"], []).extend(_exact(line) for line in lines)
    return by_stream


def _served(api: ConversationsApi) -> tuple[dict[int, dict], dict[int, dict]]:
    """Every conversation and message as the sandbox writes it under its readings, by id."""
    conversations, messages = {}, {}
    for items in api.conversations.values():
        for conversation in items:
            body = api.served(api.conversation_body(conversation, list(conversation.messages)))
            messages.update({m["id"]: m for m in body.pop("messages")})
            conversations[conversation.id] = body
    return conversations, messages


def test_planted_values_arrive_exactly_in_records_and_batch_files_and_never_in_the_log(sandbox, tmp_path) -> None:
    conversations_api = ConversationsApi(readings=PLANTED, conversations_per_location=12, max_messages=6)
    server = sandbox(scale=150, customers=[101], readings=PLANTED, extra_apis=[conversations_api])
    config = all_sources_config(server.url, customer_ids=[101], start_date="2024-01-01T00:00:00Z")
    for key in ("interactly_api_url", "interactly_api_key", "interactly_integration_ids"):
        del config[key]
    batch_config = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": f"file://{tmp_path}"}}

    run = run_tap(config)
    batched = run_tap({**config, "batch_config": batch_config})

    records = _records(run.out.splitlines())
    assert validate_records(run) == sum(len(rows) for rows in records.values())
    # BATCH files carry exactly what RECORD messages carry, numbers to the digit.
    assert _batch_records(batched, tmp_path) == records

    # Liine: every 7th interaction has a revenue beyond a double and an id above 2^64.
    interactions = {r["id"]: r for r in records["interactions"]}
    planted = [i for i in interactions if i % 7 == 0]
    assert len(interactions) == 150 and len(planted) == 21
    for i in planted:
        assert interactions[i]["revenue"] == Decimal(f"9007199254740993.{i}01")
        assert interactions[i]["related_form_submission_id"] == TWO_TO_64 + i
        assert re.search(rf'"revenue":9007199254740993\.{i}01[,}}]', run.out)  # a JSON number, every digit

    # Conversations: messages and conversations as served, but for the listed instants (in UTC).
    conversations, messages = _served(conversations_api)
    emitted = {r["id"]: r for r in records["conversation_messages"]}
    assert sorted(emitted) == sorted(messages)
    assert sum(1 for m in emitted.values() if m["sms_msg_id"] > TWO_TO_64) == sum(1 for m in messages if m % 3 == 0)
    for stream, sent in (("conversations", conversations), ("conversation_messages", messages)):
        rows = {r["id"]: r for r in records[stream]}
        assert sorted(rows) == sorted(sent)
        for row_id, row in rows.items():
            for field, value in sent[row_id].items():
                if field in INSTANTS[stream] and value is not None:
                    assert value.endswith("-05:00") and row[field].endswith("Z")
                    assert parse_datetime(row[field]) == parse_datetime(value)
                else:  # created_at_with_tz, sender_info, sms_msg_id, the patient's date-times: as sent
                    assert row[field] == value, (stream, row_id, field)
    assert any(m["sender_info"]["name"]["value"]["first"] for m in emitted.values())
    assert all(m["created_at_with_tz"].endswith("-05:00") for m in emitted.values())

    # The log names fields, never a value.
    for log in (run.log, batched.log):
        assert "conversations.updated_at arrives with UTC offsets other than zero" in log
        assert "9007199254740993" not in log and str(TWO_TO_64)[:12] not in log
        for message in messages.values():
            assert message["created_at_with_tz"] not in log
            assert message["sender_info"]["name"]["aliases"][0] not in log


def test_type_mismatches_are_named_with_field_type_and_count_never_the_value(sandbox) -> None:
    server = sandbox(scale=180, customers=[101], mistyped=True)
    run = run_tap(liine_config(server.url, customer_ids=[101]))

    records = {r["id"]: r for r in run.records("interactions")}
    planted = [i for i in records if i % 9 == 0]
    assert len(records) == 180 and len(planted) == 20
    for i in planted:  # a phone number carries a string; the others are emitted unchanged
        assert records[i]["phone_number"] == str(19_195_550_000_000 + i)
        assert records[i]["email"] == [f"planted.{i}@patients.example", f"second.{i}@patients.example"]
        assert records[i]["name"] == {"first": f"Plantedfirst{i}", "last": f"Plantedlast{i}"}
        assert records[i]["revenue"] == f"n/a-{i}"

    warnings = re.findall(r"interactions\.(\w+): (\d+) of (\d+) records on a page have a value of JSON type (\w+) "
                          r"where the schema declares (\w+); emitted unchanged", run.log)  # fmt: skip
    by_field = {field: (sent, declared) for field, _, _, sent, declared in warnings}
    assert by_field == {"email": ("array", "string"), "name": ("object", "string"), "revenue": ("string", "number")}
    assert all(0 < int(count) <= int(page) for _, count, page, _, _ in warnings)
    assert "phone_number (number -> string, " in run.log
    for i in planted:
        for value in (str(19_195_550_000_000 + i), f"planted.{i}@", f"Plantedfirst{i}", f"n/a-{i}"):
            assert value not in run.log


def test_the_readme_names_exactly_the_fields_converted_to_utc() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    bullet = readme.split("Instants with an offset other than zero become the same instant in UTC")[1]
    named = set(re.findall(r"`(\w+\.\w+)`", bullet.split("\n- ")[0]))

    tap = TapLiine(config={"start_date": "2024-01-01T00:00:00Z"}, validate_config=False)
    converted = {f"{stream.name}.{field}" for stream in tap.streams.values() for field in stream.instants.fields}
    assert named == converted
    assert "conversation_messages.created_at_with_tz" not in converted


# ----- any number, as written ---------------------------------------------------------------


@st.composite
def json_numbers(draw: st.DrawFn) -> str:
    """The text of a JSON number with a fraction or an exponent: up to 40 digits each side, any exponent."""
    whole = draw(st.sampled_from(["0", *"123456789"])) + draw(st.text("0123456789", max_size=40))
    whole = "0" if whole.startswith("0") else whole
    fraction = draw(st.text("0123456789", max_size=40))
    exponent = draw(st.one_of(st.just(""), st.integers(-500, 500).map(lambda e: f"e{e:+d}")))
    if not fraction and not exponent:
        fraction = "0"
    return draw(st.sampled_from(["", "-"])) + whole + (f".{fraction}" if fraction else "") + exponent


@pytest.fixture(scope="module")
def interactions_stream():
    return TapLiine(config={"start_date": "2024-01-01T00:00:00Z"}, validate_config=False).streams["interactions"]


@settings(max_examples=150, derandomize=True, deadline=None)
@given(number=json_numbers(), integer=st.integers(-(10**40), 10**40), as_string=st.booleans())
def test_any_number_comes_out_as_the_api_wrote_it(interactions_stream, number, integer, as_string) -> None:
    # Decoded, conformed and encoded as every page is: a decimal as a JSON number or a string
    # (as Django REST back ends write them), an integer of any size.
    revenue = f'"{number}"' if as_string else number
    body = (
        f'{{"interactions":[{{"id":1,"customer_id":101,"revenue":{revenue},"agent_id":{integer},"extra":{number}}}]}}'
    )
    records = interactions_stream.conform(interactions_stream.decode_body(body.encode())["interactions"])
    out = json.loads(encoder.encode(records[0]), parse_float=Decimal, parse_int=int)
    assert out["revenue"] == Decimal(number) and not isinstance(out["revenue"], str)
    assert out["extra"] == Decimal(number)
    assert out["agent_id"] == integer and type(out["agent_id"]) is int


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.decimals(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(value=JSON_VALUES)
def test_a_value_is_named_by_the_one_json_type_that_holds_it(value) -> None:
    # Decoded bodies hold decimals as Decimal (http.py); an integer is a JSON number too.
    holding = [kind for kind in ("null", "boolean", "number", "string", "array", "object")
               if Draft202012Validator({"type": kind}).is_valid(value)]  # fmt: skip
    assert [json_type(value)] == holding


@pytest.mark.parametrize(("value", "words"), [([101], "an array"), (7, "a number"), (True, "a boolean")])
def test_the_state_and_the_settings_name_a_wrong_type_in_the_same_words(value, words) -> None:
    state = {"bookmarks": {"interactions": {"partitions": [{"context": {"customer_id": 101}, "backfill": value}]}}}
    with pytest.raises(RunStopped, match=f"must be an object with `started` and `done_through`; it is {words}\\."):
        TapLiine(config=liine_config("http://127.0.0.1:9"), state=state)
    with pytest.raises(ConfigValidationError) as refused:
        TapLiine(config=liine_config("http://127.0.0.1:9", password=value))
    assert refused.value.errors == [f"Setting `password` must be a string; got {words}."]
