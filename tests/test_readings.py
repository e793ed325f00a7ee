"""Every record exactly once, every figure exact, under every reading of the API documents.

The sandbox plays each open question of the documents one way or another (see
tap_liine/sandbox/readings.py); the tap must be right whichever way the real API answers.
Each test runs the tap with faults on against one reading (and one test per source against
all non-default readings at once) and compares what it emitted with the sandbox's truth.
"""

from __future__ import annotations

import collections
import datetime as dt

import pytest
import requests

from tap_liine.sandbox.readings import BY_NAME, alternatives
from tests.helpers import (
    all_sources_config,
    check_interactly_figures,
    expected_interactions,
    liine_config,
    run_tap,
    validate_records,
)

FAULTS = {"faults": "all", "every": 7}
DEFAULT = ("default", "")


def _cases(prefix: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [DEFAULT, *alternatives(prefix), *extra]


def _case_id(case: tuple[str, str]) -> str:
    return "default" if case == DEFAULT else f"{case[0]}={case[1]}"


def _readings(case: tuple[str, str]) -> dict[str, str]:
    return {} if case == DEFAULT else dict([case])


def _all_alternatives(prefix: str) -> dict[str, str]:
    """The last non-default reading of every question of one source, all at once."""
    return {q.name: list(q.choices)[-1] for q in BY_NAME.values() if q.name.startswith(prefix)}


# ----- interactions ---------------------------------------------------------------------

LIINE_START = "2025-11-01"
# What the tap says when it notices which reading it faces.
NOTICED = {
    DEFAULT: "pagination_timestamp is the oldest (last) interaction of the page",
    ("liine.pagination_timestamp", "first"): "pagination_timestamp is the newest (first) interaction of the page",
    ("liine.cursor_clock", "utc"): "Liine compares pagination_timestamp with start_time_tz, not start_time",
    ("liine.limit", "capped"): "returns at most 300 interactions per page although limit=1000 was asked",
    ("liine.limit", "capped-echoed"): "returns at most 300 interactions per page although limit=1000 was asked",
    ("liine.numbers", "strings"): "revenue (string -> number, ",
    ("conversations.count", "missing"): "count is no total, so a second pass checks the first",
    ("conversations.count", "page"): "count is no total, so a second pass checks the first",
    ("conversations.per_page", "50"): "at most 50 rows per page although per_page=100 was asked",
    ("conversations.numbers", "strings"): "patient.id (string -> integer, ",
    ("conversations.offsets", "local"): "conversations.updated_at arrives with UTC offsets other than zero",
    ("conversations.past_last_page", "404"): "answers 404 (Invalid page.) to a page number past the last",
    ("conversations.past_last_page", "400"): "answers 400 (Invalid page.) to a page number past the last",
    ("interactly.breakdown_size", "capped-100"): "sends at most 100 entries per list page although size=300",
    ("interactly.trend_id", "local-midnight"): "trends entries are days starting at 04:00:00 UTC",
    ("interactly.trend_id", "instant"): "trends entries are instants",
    ("interactly.numbers", "strings"): "total (string -> integer, ",
    ("interactly.past_last_page", "404"): "answers 404 (Invalid page.) to a page number past the last",
    ("interactly.past_last_page", "400"): "answers 400 (Invalid page.) to a page number past the last",
}


def _interactions_run(sandbox, readings: dict[str, str], *, page_size: int):
    server = sandbox(scale=3000, customers=[101, 202], tie_rate=0.3, readings=readings, **FAULTS)
    config = liine_config(
        server.url,
        customer_ids=[101, 202],
        start_date=f"{LIINE_START}T00:00:00Z",
        window_days=120,
        page_size=page_size,
        max_retries=15,
    )
    return server, config, run_tap(config)


@pytest.mark.parametrize("case", _cases("liine."), ids=_case_id)
def test_interactions_exactly_once_under_every_reading(sandbox, case) -> None:
    # Pages of 1000 meet a capped `limit`; pages of 97 cross many ties and window ends.
    page_size = 1000 if case[0] == "liine.limit" else 97
    server, _, run = _interactions_run(sandbox, _readings(case), page_size=page_size)

    ids = run.ids("interactions")
    expected = expected_interactions(server.url, [101, 202], LIINE_START)
    assert len(expected) > 2500
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert validate_records(run) == len(ids)
    assert "may have been missed" not in run.log
    if case in NOTICED:
        assert NOTICED[case] in run.log


def test_interactions_under_all_readings_at_once_including_the_next_run(sandbox) -> None:
    readings = _all_alternatives("liine.")
    server, config, first = _interactions_run(sandbox, readings, page_size=1000)
    expected = expected_interactions(server.url, [101, 202], LIINE_START)
    assert sorted(first.ids("interactions")) == sorted(expected)
    validate_records(first)

    touched = requests.post(f"{server.url}/_sandbox/liine/touch", json={"ids": [7, 1500, 2999]}, timeout=5).json()
    second = run_tap(config, state=first.last_state)
    records = {r["id"]: r for r in second.records("interactions")}
    assert {7, 1500, 2999} <= set(records)
    assert all(records[i]["updated_at"] == touched["updated_at"] for i in (7, 1500, 2999))
    assert len(second.ids("interactions")) == len(records)
    validate_records(second)


# ----- conversations ----------------------------------------------------------------------


def _conversations_truth(url: str) -> tuple[dict[int, str], dict[int, int], dict]:
    body = requests.get(f"{url}/_sandbox/conversations/truth", timeout=10).json()
    conversations = {c["id"]: location for location, items in body.items() for c in items}
    messages = {m: c["id"] for items in body.values() for c in items for m in c["message_ids"]}
    churned = requests.get(f"{url}/_sandbox/conversations/churned", timeout=10).json()
    return conversations, messages, churned


CHURN_BY_ORDER = [("conversations.churn", f"while-paging/{order}") for order in BY_NAME["conversations.order"].choices]


def _conversation_readings(case: tuple[str, str]) -> dict[str, str]:
    if case[0] == "conversations.churn":  # with each order, as where rows move depends on it
        churn, _, order = case[1].partition("/")
        return {"conversations.churn": churn, "conversations.order": order or "id"}
    if case[0] == "conversations.past_last_page":  # without a total the tap pages until the end
        return {**_readings(case), "conversations.count": "missing"}
    return _readings(case)


def _conversations_run(sandbox, readings: dict[str, str], *, page_size: int = 10):
    server = sandbox(
        scale=10,
        customers=[1],
        readings=readings,
        conversations={"conversations_per_location": 70, "max_messages": 12},
        **FAULTS,
    )
    config = {
        "start_date": "2024-01-01T00:00:00Z",
        "conversations_api_url": server.url,
        "conversations_api_key": "demo-conversations-key",
        "conversations_subdomain": "bright-smiles",
        "conversations_location_ids": ["3001", "3002"],
        "conversations_page_size": page_size,
        "retry_wait_seconds": 0.01,
        "max_retries": 15,
    }
    return server, config, run_tap(config)


@pytest.mark.parametrize(
    "case", [c for c in _cases("conversations.") if c[0] != "conversations.churn"] + CHURN_BY_ORDER, ids=_case_id
)
def test_conversations_and_messages_exactly_once_under_every_reading(sandbox, case) -> None:
    # Pages of 100 meet a capped `per_page`; pages of 10 give the list many boundaries to shift across.
    page_size = 100 if case[0] == "conversations.per_page" else 10
    server, config, run = _conversations_run(sandbox, _conversation_readings(case), page_size=page_size)
    conversations, messages, churned = _conversations_truth(server.url)
    if case in NOTICED and case != DEFAULT:
        assert NOTICED[case] in run.log

    ids = run.ids("conversations")
    message_ids = run.ids("conversation_messages")
    assert len(ids) == len(set(ids))
    assert len(message_ids) == len(set(message_ids))
    assert validate_records(run) == len(ids) + len(message_ids)
    if not churned["create"]:
        assert set(ids) == set(conversations)
        assert set(message_ids) == set(messages)
        assert "may be missing" not in run.log
        return
    assert "cannot be trusted" in run.log  # the tap noticed the list shifting and read it again
    # Rows changed while the tap paged: every row that existed throughout arrives exactly once;
    # a row deleted meanwhile may have arrived before it went; a row created meanwhile may wait
    # for the next run, like a message added meanwhile.
    new = set(churned["create"])
    assert set(conversations) - new <= set(ids) <= set(conversations) | set(churned["delete"])
    old_messages = {m for m, c in messages.items() if c in set(ids)} - set(churned["messages"])
    deleted_messages = {m for ms in churned["deleted_messages"].values() for m in ms}
    assert old_messages <= set(message_ids) <= set(messages) | deleted_messages

    second = run_tap(config, state=run.last_state)
    assert set(ids) | set(second.ids("conversations")) >= set(conversations)
    assert set(message_ids) | set(second.ids("conversation_messages")) >= set(messages)


def test_conversations_under_all_readings_at_once(sandbox) -> None:
    readings = {**_all_alternatives("conversations."), "conversations.order": "updated-asc"}
    server, config, run = _conversations_run(sandbox, readings)
    conversations, messages, churned = _conversations_truth(server.url)
    ids, message_ids = run.ids("conversations"), run.ids("conversation_messages")
    assert len(ids) == len(set(ids)) and len(message_ids) == len(set(message_ids))
    assert set(conversations) - set(churned["create"]) <= set(ids)
    validate_records(run)
    second = run_tap(config, state=run.last_state)
    assert set(ids) | set(second.ids("conversations")) >= set(conversations)
    assert set(message_ids) | set(second.ids("conversation_messages")) >= set(messages)


# ----- Interactly -------------------------------------------------------------------------

INTEGRATIONS = ["5eb7cf5a86d9755df3a6c593", "65a1b2c3d4e5f60718293a4b"]
INTERACTLY_START = dt.date(2026, 10, 10)


def _interactly_run(sandbox, readings: dict[str, str]):
    # Up to 400 appointments a day among 240 campaigns: more breakdown entries than a capped page holds.
    data = {"days": 20, "per_day": 400, "campaigns": 240}
    if set(readings) == {"interactly.past_last_page"}:
        # Days whose campaigns fill a page of 300 exactly: only the next page can prove the end.
        data = {**data, "per_day": 2500, "campaigns": 300}
    server = sandbox(scale=10, customers=[1], readings=readings, interactly=data, **FAULTS)
    config = {
        "start_date": f"{INTERACTLY_START}T00:00:00Z",
        "interactly_api_url": server.url,
        "interactly_api_key": "demo-interactly-key",
        "interactly_integration_ids": INTEGRATIONS,
        "window_days": 7,  # trend windows end inside the data
        "retry_wait_seconds": 0.01,
        "max_retries": 15,
    }
    return server, run_tap(config)


def _check_interactly_figures(url: str, run) -> None:
    check_interactly_figures(url, run, INTERACTLY_START, INTEGRATIONS)
    assert max(len(r["utm_campaign"]) for r in run.records("appointment_statistics")) > 100  # the data has teeth


@pytest.mark.parametrize("case", _cases("interactly.", *alternatives("errors.")), ids=_case_id)
def test_statistics_and_trends_exact_under_every_reading(sandbox, case) -> None:
    server, run = _interactly_run(sandbox, _readings(case))
    _check_interactly_figures(server.url, run)
    validate_records(run)
    if case in NOTICED and case != DEFAULT:
        assert NOTICED[case] in run.log


def test_interactly_under_all_readings_at_once(sandbox) -> None:
    server, run = _interactly_run(sandbox, {**_all_alternatives("interactly."), "errors.body": "documented"})
    _check_interactly_figures(server.url, run)
    validate_records(run)


def test_every_stream_validates_against_its_schema_under_all_readings_at_once(sandbox) -> None:
    readings = {
        **_all_alternatives("liine."),
        **_all_alternatives("conversations."),
        **_all_alternatives("interactly."),
        "errors.body": "documented",
    }
    server = sandbox(
        scale=1500,
        readings=readings,
        conversations={"conversations_per_location": 30},
        interactly={"days": 15},
        **FAULTS,
    )
    run = run_tap(all_sources_config(server.url, start_date="2026-10-01T00:00:00Z", max_retries=15))
    counts = collections.Counter(m["stream"] for m in run.messages if m["type"] == "RECORD")
    assert set(counts) == {
        "interactions", "conversations", "conversation_messages", "appointment_statistics", "appointment_trends",
    }  # fmt: skip
    assert validate_records(run) == sum(counts.values())
