"""The `interactions` stream against the Liine sandbox, over real HTTP."""

from __future__ import annotations

import collections
import datetime as dt

import pytest
import requests

from tap_liine.sandbox.server import FAULT_KINDS
from tests.helpers import liine_config, liine_truth, run_tap, validate_records


def _naive_walk_losses(truth: list[dict], customer: int, limit: int) -> set[int]:
    """Ids the document's own loop (cursor = oldest start_time, strictly older) would lose."""
    rows = sorted(
        (r for r in truth if r["customer_id"] == customer), key=lambda r: (r["start_time"], r["id"]), reverse=True
    )
    seen: set[int] = set()
    cursor = None
    while True:
        page = [r for r in rows if cursor is None or r["start_time"] < cursor][:limit]
        seen.update(r["id"] for r in page)
        if len(page) < limit:
            break
        cursor = page[-1]["start_time"]
    return {r["id"] for r in rows} - seen


def test_full_sync_emits_every_interaction_once_with_faults_on(sandbox) -> None:
    server = sandbox(scale=10_500, faults="all", every=3)
    run = run_tap(liine_config(server.url, max_retries=10))

    truth = liine_truth(server.url)
    ids = run.ids("interactions")
    assert len(truth) == 10_500
    assert collections.Counter(ids).most_common(1)[0][1] == 1
    assert set(ids) == {r["id"] for r in truth}
    injected = requests.get(f"{server.url}/_sandbox/faults", timeout=5).json()
    assert set(injected) == set(FAULT_KINDS), injected
    assert validate_records(run) == len(run.ids("interactions"))

    # One bookmark per customer: the newest updated_at among its interactions.
    partitions = run.last_state["bookmarks"]["interactions"]["partitions"]
    newest = {c: max(r["updated_at"] for r in truth if r["customer_id"] == c) for c in (101, 202, 303)}
    assert {p["context"]["customer_id"]: p["replication_key_value"] for p in partitions} == newest


@pytest.mark.parametrize("envelope_timestamp", ["last", "first"])
def test_ties_at_page_boundaries_lose_nothing_whatever_pagination_timestamp_means(sandbox, envelope_timestamp) -> None:
    server = sandbox(
        scale=900, customers=[101], tie_rate=0.6, readings={"liine.pagination_timestamp": envelope_timestamp}
    )
    truth = liine_truth(server.url)
    # The data has teeth: paging by the oldest start_time alone would lose interactions here.
    assert _naive_walk_losses(truth, 101, limit=7)

    run = run_tap(liine_config(server.url, customer_ids=[101], page_size=7))

    ids = run.ids("interactions")
    assert len(ids) == len(set(ids)) == 900
    assert set(ids) == {r["id"] for r in truth}


def test_crowded_second_is_read_type_by_type(sandbox) -> None:
    # 25 interactions of mixed types in one second; the server caps pages at 10.
    server = sandbox(scale=200, customers=[101], tie_burst=25, max_limit=10)
    run = run_tap(liine_config(server.url, customer_ids=[101], page_size=10))

    ids = run.ids("interactions")
    assert len(ids) == len(set(ids)) == 225
    assert set(ids) == {r["id"] for r in liine_truth(server.url)}
    assert "may have been missed" not in run.log


def test_crowded_second_beyond_narrowing_terminates_and_says_what_may_be_missing(sandbox) -> None:
    # 25 calls in one second, pages of 10: the API offers no way to read calls 11 to 25.
    server = sandbox(scale=200, customers=[101], tie_burst=25, tie_burst_type="call", max_limit=10)
    truth = liine_truth(server.url)
    crowded = collections.Counter(r["start_time"] for r in truth).most_common(1)[0][0]
    burst = {r["id"] for r in truth if r["start_time"] == crowded}
    readable = {r["id"] for r in truth if r["start_time"] == crowded and r["interaction_type"] != "call"}

    run = run_tap(liine_config(server.url, customer_ids=[101], page_size=10))

    ids = run.ids("interactions")
    assert len(ids) == len(set(ids))
    assert set(ids) - burst == {r["id"] for r in truth} - burst  # everything else arrives
    # 10 of the calls (a page), and every interaction of other types in that second.
    assert len(set(ids) & (burst - readable)) == 10
    assert readable <= set(ids)
    assert f"start at {crowded}" in run.log
    assert "may have been missed" in run.log


def test_token_renewed_before_expiry_and_after_a_401(sandbox) -> None:
    # Tokens live 1 s and every 7th request revokes the one in use, with 4 windows in flight.
    server = sandbox(scale=3000, token_lifetime=1.0, latency_ms=40, faults="expire", every=7)
    run = run_tap(liine_config(server.url, page_size=200))

    assert set(run.ids("interactions")) == {r["id"] for r in liine_truth(server.url)}
    assert len(run.ids("interactions")) == 3000
    logins = requests.get(f"{server.url}/_sandbox/liine/stats", timeout=5).json()["logins"]
    assert logins > 3, logins  # renewed as tokens expired and after each revoked token
    assert "answered 401" in run.log


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k != "expire"])
def test_each_fault_kind_is_retried(sandbox, kind) -> None:
    server = sandbox(scale=2000, customers=[101, 202], faults=kind, every=3, retry_after=1 if kind == "429" else 0)
    run = run_tap(liine_config(server.url, customer_ids=[101, 202], page_size=250))

    ids = run.ids("interactions")
    assert len(ids) == len(set(ids)) == 2000
    injected = requests.get(f"{server.url}/_sandbox/faults", timeout=5).json()
    assert injected.get(kind, 0) >= 2
    if kind == "429":
        assert "retrying after 1.0 s" in run.log


def test_incremental_run_emits_changed_interactions_and_little_else(sandbox) -> None:
    server = sandbox(scale=6000)
    config = liine_config(server.url, lookback_days=1)
    first = run_tap(config)
    assert len(first.ids("interactions")) == 6000

    changed = [17, 2500, 5999]
    before = {i: requests.get(f"{server.url}/_sandbox/liine/record?id={i}", timeout=5).json() for i in changed}
    touched = requests.post(f"{server.url}/_sandbox/liine/touch", json={"ids": changed}, timeout=5).json()

    second = run_tap(config, state=first.last_state)

    records = {r["id"]: r for r in second.records("interactions")}
    assert set(changed) <= set(records)
    for i in changed:
        assert records[i]["updated_at"] == touched["updated_at"]
        assert records[i] != before[i]
    # Only what changed, plus the lookback day's worth of the rest.
    assert len(records) < 0.02 * 6000, len(records)
    sent = requests.get(f"{server.url}/_sandbox/requests", timeout=5).json()
    assert any("updated_date=" in path for _, path in sent)
    bookmarks = {
        p["context"]["customer_id"]: p["replication_key_value"]
        for p in second.last_state["bookmarks"]["interactions"]["partitions"]
    }
    owners = {r["id"]: r["customer_id"] for r in liine_truth(server.url)}
    for i in changed:
        assert bookmarks[owners[i]] == touched["updated_at"]


def test_include_spam_false_omits_the_parameter(sandbox) -> None:
    server = sandbox(scale=3000)
    run = run_tap(liine_config(server.url, include_spam=False))

    truth = liine_truth(server.url)
    assert set(run.ids("interactions")) == {r["id"] for r in truth if not r["is_spam_likely"]}
    assert any(r["is_spam_likely"] for r in truth)
    sent = requests.get(f"{server.url}/_sandbox/requests", timeout=5).json()
    interaction_requests = [p for m, p in sent if "/interactions" in p]
    assert interaction_requests
    assert not any("include_is_spam_likely" in p for p in interaction_requests)


def test_spam_is_included_by_default(sandbox) -> None:
    server = sandbox(scale=1500)
    run = run_tap(liine_config(server.url))
    truth = liine_truth(server.url)
    assert set(run.ids("interactions")) == {r["id"] for r in truth}
    assert sum(r["is_spam_likely"] for r in run.records("interactions")) == sum(r["is_spam_likely"] for r in truth) > 0


def test_interaction_types_and_verbatim_filters(sandbox) -> None:
    server = sandbox(scale=3000)
    config = liine_config(
        server.url,
        interaction_types=["call", "form"],
        interaction_filters={"direction": ["outbound"], "duration_min": 600},
    )
    run = run_tap(config)

    records = run.records("interactions")
    assert records
    assert {r["interaction_type"] for r in records} == {"call"}  # forms are all inbound
    assert all(r["direction"] == "outbound" and r["duration"] >= 600 for r in records)
    expected = set()
    for row in liine_truth(server.url):
        if row["interaction_type"] in {"call", "form"}:
            full = requests.get(f"{server.url}/_sandbox/liine/record?id={row['id']}", timeout=5).json()
            if full["direction"] == "outbound" and (full["duration"] or 0) >= 600:
                expected.add(row["id"])
    assert {r["id"] for r in records} == expected
    sent = [p for _, p in requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() if "/interactions" in p]
    assert all("type=call&type=form" in p and "direction=outbound" in p and "duration_min=600" in p for p in sent)


def test_start_date_bounds_the_first_run(sandbox) -> None:
    server = sandbox(scale=3000)
    run = run_tap(liine_config(server.url, start_date="2026-09-01T00:00:00Z"))
    truth = liine_truth(server.url)
    expected = {r["id"] for r in truth if r["start_time"] >= "2026-09-01"}
    assert 0 < len(expected) < len(truth)
    assert set(run.ids("interactions")) == expected


def test_schema_types_every_documented_field(sandbox) -> None:
    server = sandbox(scale=300)
    run = run_tap(liine_config(server.url))
    schema = run.schema("interactions")
    props = schema["properties"]
    assert len(props) == 84
    assert props["provider_names"]["type"] == ["array", "null"]
    assert props["initial_session_extras"]["type"] == ["object", "null"]
    assert props["revenue"]["type"] == ["number", "null"]
    for name in ("start_time_tz", "updated_at"):
        assert props[name]["format"] == "date-time"
    # The wall-clock start is no UTC instant: the string the API sends, said so.
    assert props["start_time"] == {"type": ["string", "null"], "description": props["start_time"]["description"]}
    assert "wall clock" in props["start_time"]["description"]
    assert run.messages[0]["type"] == "SCHEMA"
    assert next(m for m in run.messages if m["type"] == "SCHEMA")["key_properties"] == ["id"]
    records = run.records("interactions")
    assert {k for r in records for k in r} == set(props)
    assert any(isinstance(r["revenue"], float) for r in records)
    assert validate_records(run) == len(run.ids("interactions"))


def test_updated_date_uses_bookmark_minus_lookback(sandbox) -> None:
    server = sandbox(scale=300)
    bookmark = "2026-10-20T10:00:00.000000Z"
    state = {"bookmarks": {"interactions": {"partitions": [
        {"context": {"customer_id": 101}, "replication_key": "updated_at", "replication_key_value": bookmark},
    ]}}}  # fmt: skip
    run_tap(liine_config(server.url, customer_ids=[101], lookback_days=3), state=state)
    sent = [p for _, p in requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() if "/interactions" in p]
    expected_day = (dt.date(2026, 10, 20) - dt.timedelta(days=3)).isoformat()
    assert sent and all(f"updated_date={expected_day}" in p for p in sent)
