"""`conversations` and `conversation_messages` against the conversations sandbox."""

from __future__ import annotations

import collections

import pytest
import requests

from tap_liine.instants import parse_datetime
from tap_liine.sandbox.conversations import ConversationsApi
from tests.helpers import run_cli, run_tap, validate_records

KEY = "demo-conversations-key"


def conversations_config(url: str, **overrides) -> dict:
    return {
        "start_date": "2024-01-01T00:00:00Z",
        "conversations_api_url": url,
        "conversations_api_key": KEY,
        "conversations_subdomain": "bright-smiles",
        "conversations_location_ids": ["3001", "3002"],
        "retry_wait_seconds": 0.01,
        # A try needs a login and a page to get through the sandbox's dense fault schedule.
        "max_retries": 15,
        **overrides,
    }


def truth(url: str) -> tuple[dict[int, str], dict[int, int]]:
    """Conversation id -> location, and message id -> conversation id."""
    body = requests.get(f"{url}/_sandbox/conversations/truth", timeout=10).json()
    conversations = {c["id"]: location for location, items in body.items() for c in items}
    messages = {m: c["id"] for items in body.values() for c in items for m in c["message_ids"]}
    return conversations, messages


def _start(sandbox, **options):
    api = ConversationsApi(
        **{k: v for k, v in options.items() if k in {"max_per_page", "token_lifetime", "conversations_per_location"}}
    )
    server_options = {k: v for k, v in options.items() if k in {"faults", "every", "latency_ms"}}
    return sandbox(scale=10, customers=[1], extra_apis=[api], **server_options)


def test_every_conversation_and_message_once_with_capped_pages_faults_and_expiring_tokens(sandbox) -> None:
    server = _start(sandbox, max_per_page=10, token_lifetime=0.5, faults="all", every=5, latency_ms=30)
    run = run_tap(conversations_config(server.url))  # asks for 100 per page; the server gives 10

    conversations, messages = truth(server.url)
    assert len(conversations) == 300 and len(messages) > 2000
    ids = run.ids("conversations")
    assert len(ids) == len(set(ids)) and set(ids) == set(conversations)
    assert {r["id"]: r["location_id"] for r in run.records("conversations")} == conversations
    message_rows = run.records("conversation_messages")
    assert collections.Counter(r["id"] for r in message_rows).most_common(1)[0][1] == 1
    assert {r["id"]: r["conversation_id"] for r in message_rows} == messages
    assert all(r["location_id"] == conversations[r["conversation_id"]] for r in message_rows)
    logins = requests.get(f"{server.url}/_sandbox/conversations/stats", timeout=5).json()["logins"]
    assert logins > 1
    assert validate_records(run) == len(ids) + len(message_rows)
    # Emoji, empty bodies and attachments arrive as sent.
    bodies = {r["body"] for r in message_rows}
    assert "" in bodies and "Yes 👍" in bodies
    assert any(r["attachment_file_size"] for r in message_rows)
    assert sum(m["type"] == "SCHEMA" and m["stream"] == "conversation_messages" for m in run.messages) == 1


def test_second_run_emits_only_what_changed(sandbox) -> None:
    server = _start(sandbox)
    config = conversations_config(server.url, lookback_days=0)
    first = run_tap(config)
    assert len(first.ids("conversations")) == 300

    added = requests.post(
        f"{server.url}/_sandbox/conversations/add-messages", json={"conversation_ids": [5003, 5160]}, timeout=5
    ).json()["message_ids"]
    second = run_tap(config, state=first.last_state)

    # Conversations updated at or after the bookmark: the two changed ones, plus any that shared the newest second.
    assert {5003, 5160} <= set(second.ids("conversations"))
    assert len(second.ids("conversations")) <= 4
    assert set(added) <= set(second.ids("conversation_messages"))
    assert len(second.ids("conversation_messages")) <= len(added) + 2
    requests_sent = [
        p for _, p in requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() if "conversations?" in p
    ]
    assert any("updated_since=" in p for p in requests_sent)


def test_code_false_is_reported_with_the_apis_description(sandbox, tmp_path) -> None:
    server = _start(sandbox)
    result = run_cli(tmp_path, conversations_config(server.url, conversations_location_ids=["9999"]))
    assert result.returncode == 1
    assert "Institution or location not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_api_key_fails_clearly_without_printing_it(sandbox, tmp_path) -> None:
    server = _start(sandbox)
    result = run_cli(tmp_path, conversations_config(server.url, conversations_api_key="sk-WRONG-123"))
    assert result.returncode == 1
    assert "conversations_api_key" in result.stderr
    assert "sk-WRONG-123" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"conversations_subdomain": None}, "conversations_subdomain"),
        ({"conversations_location_ids": None}, "conversations_location_ids"),
        ({"conversations_api_key": None}, "conversations_api_key"),
        ({"conversations_location_ids": [""]}, "conversations_location_ids"),
        ({"conversations_page_size": 500}, "conversations_page_size"),
        ({"conversations_api_url": "ftp://x"}, "conversations_api_url"),
    ],
)
def test_bad_conversation_settings_are_named_before_any_request(sandbox, tmp_path, change, setting) -> None:
    server = _start(sandbox)
    config = {k: v for k, v in {**conversations_config(server.url), **change}.items() if v is not None}
    result = run_cli(tmp_path, config)
    assert result.returncode == 1
    assert setting in result.stderr
    assert requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() == []
    assert KEY not in result.stderr


def test_unconfigured_source_is_skipped_with_one_line(sandbox) -> None:
    server = _start(sandbox)
    config = {"start_date": "2024-01-01T00:00:00Z", "api_url": server.url, "username": "demo",
              "password": "demo-password", "customer_ids": [1], "retry_wait_seconds": 0.01}  # fmt: skip
    run = run_tap(config)
    assert run.ids("interactions")
    assert not any(m.get("stream", "").startswith("conversation") for m in run.messages if m["type"] != "STATE")
    assert run.log.count("Skipping stream 'conversations': the Conversations source is not configured") == 1


def test_created_at_with_tz_keeps_the_offset_it_exists_to_carry(sandbox) -> None:
    server = _start(sandbox, conversations_per_location=20)
    run = run_tap(conversations_config(server.url))

    rows = run.records("conversation_messages")
    sent = requests.get(f"{server.url}/_sandbox/conversations/truth", timeout=10).json()
    assert len(rows) == sum(len(c["message_ids"]) for items in sent.values() for c in items) > 50
    # The sandbox writes created_at_with_tz at -05:00 and created_at in UTC: the same instant,
    # each emitted as sent (tests/test_values.py: date-times sent with offsets everywhere).
    assert all(r["created_at_with_tz"].endswith("-05:00") and r["created_at"].endswith("Z") for r in rows)
    assert all(parse_datetime(r["created_at_with_tz"]) == parse_datetime(r["created_at"]) for r in rows)
    assert run.schema("conversation_messages")["properties"]["created_at_with_tz"]["type"] == ["string", "null"]
    assert "arrives with UTC offsets" not in run.log
