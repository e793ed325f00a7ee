"""Kill a backfill at any moment and resume it; concurrent runs equal sequential runs; politeness."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from tap_liine.sandbox.interactly import InteractlyApi
from tests.helpers import liine_config, liine_truth, run_tap


def _run_until(tmp_path, config: dict, state: dict | None, stop) -> tuple[list[dict], dict | None, bool]:
    """Run the CLI, read its messages as a target would, SIGKILL it when `stop(messages)` says so.

    Returns what was read, the last STATE read (what a target would have saved) and
    whether the tap was killed (False: it finished first).
    """
    (tmp_path / "config.json").write_text(json.dumps(config))
    args = [sys.executable, "-m", "tap_liine", "--config", str(tmp_path / "config.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    messages: list[dict] = []
    last_state, killed = state, False
    for line in proc.stdout:
        message = json.loads(line)
        messages.append(message)
        if message["type"] == "STATE":
            last_state = message["value"]
        if stop(messages):
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
    proc.wait()
    proc.stdout.close()
    return messages, last_state, killed


def _ids(messages: list[dict], stream: str = "interactions") -> list:
    return [m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def _records_read(n: int):
    return lambda messages: sum(m["type"] == "RECORD" for m in messages) >= n


def _window_states_read(n: int):
    return lambda messages: sum(m["type"] == "STATE" and "done_through" in json.dumps(m) for m in messages) >= n


@pytest.mark.parametrize(
    "stop",
    [_records_read(1), _records_read(777), _window_states_read(3), _records_read(2500)],
    ids=["first-record", "inside-a-window", "between-windows", "late"],
)
def test_killed_backfill_resumes_with_every_interaction_and_at_most_one_window_again(sandbox, tmp_path, stop) -> None:
    server = sandbox(scale=3000, customers=[101], latency_ms=3)
    # A STATE after every window (no pacing): a kill loses at most the window being read.
    config = liine_config(server.url, customer_ids=[101], page_size=100, window_days=30, max_parallel_requests=4,
                          state_interval_seconds=0)  # fmt: skip
    truth = {r["id"]: r for r in liine_truth(server.url)}

    first, state, killed = _run_until(tmp_path, config, None, stop)
    assert killed
    second, _, killed_again = _run_until(tmp_path, config, state, lambda _: False)
    assert not killed_again

    before, after = _ids(first), _ids(second)
    assert len(before) == len(set(before)) and len(after) == len(set(after))
    assert set(before) | set(after) == set(truth)
    # What both runs emitted lies in one window, the one the kill interrupted, and the day
    # after it, which each window also asks for (whatever `end_date` means).
    again = set(before) & set(after)
    resumed_from = (state or {}).get("bookmarks", {}).get("interactions", {}).get("partitions", [{}])[0]
    done = resumed_from.get("backfill", {}).get("done_through")
    days = {truth[i]["start_time"][:10] for i in again}
    if days:
        first_day = dt.date.fromisoformat(min(days))
        assert done is None or first_day > dt.date.fromisoformat(done)
        assert (dt.date.fromisoformat(max(days)) - first_day).days <= 30
    # The rerun finished the backfill: a bookmark, no backfill left.
    final = second[-1]["value"]["bookmarks"]["interactions"]["partitions"][0]
    assert "backfill" not in final
    assert final["replication_key_value"] == max(r["updated_at"] for r in truth.values())


def test_killed_multi_customer_backfill_loses_nothing(sandbox, tmp_path) -> None:
    server = sandbox(scale=6000, latency_ms=2)
    config = liine_config(server.url, page_size=200, window_days=45, state_interval_seconds=0)
    first, state, killed = _run_until(tmp_path, config, None, _records_read(3100))  # inside customer 202
    assert killed
    second, _, _ = _run_until(tmp_path, config, state, lambda _: False)
    assert set(_ids(first)) | set(_ids(second)) == {r["id"] for r in liine_truth(server.url)}
    assert len(_ids(second)) < 6000 - 2500  # customer 101 was not extracted again


def test_killed_statistics_backfill_resumes_after_the_last_day_done(sandbox, tmp_path) -> None:
    server = sandbox(scale=10, customers=[1], extra_apis=[InteractlyApi(days=60)], latency_ms=2)
    config = {
        "start_date": "2026-09-01T00:00:00Z",
        "interactly_api_url": server.url,
        "interactly_api_key": "demo-interactly-key",
        "interactly_integration_ids": ["5eb7cf5a86d9755df3a6c593"],
        "retry_wait_seconds": 0.01,
        "state_interval_seconds": 0,
    }

    def statistics_read(messages: list[dict]) -> bool:
        return sum(m["type"] == "RECORD" and m["stream"] == "appointment_statistics" for m in messages) >= 40

    first, state, killed = _run_until(tmp_path, config, None, statistics_read)
    assert killed
    second, _, _ = _run_until(tmp_path, config, state, lambda _: False)

    def days(messages: list[dict]) -> list[str]:
        return [
            m["record"]["date"][:10]
            for m in messages
            if m["type"] == "RECORD" and m["stream"] == "appointment_statistics"
        ]

    today = dt.datetime.now(dt.timezone.utc).date()
    every_day = {
        (dt.date(2026, 9, 1) + dt.timedelta(days=n)).isoformat() for n in range((today - dt.date(2026, 9, 1)).days + 1)
    }
    assert set(days(first)) | set(days(second)) == every_day
    assert len(set(days(first)) & set(days(second))) <= 1  # only a day whose STATE the kill cut off


def _without_run_moments(state: dict) -> dict:
    text = json.dumps(state, sort_keys=True)
    value = json.loads(text)

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in {"replication_key_signpost", "started"}}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(value)


def test_concurrent_run_with_faults_equals_sequential_run(sandbox) -> None:
    server = sandbox(scale=6000, faults="all", every=4, extra_apis=[InteractlyApi(days=40)])
    config = liine_config(
        server.url,
        page_size=150,
        window_days=20,
        start_date="2025-12-01T00:00:00Z",
        interactly_api_url=server.url,
        interactly_api_key="demo-interactly-key",
        interactly_integration_ids=["5eb7cf5a86d9755df3a6c593", "65a1b2c3d4e5f60718293a4b"],
    )
    sequential = run_tap({**config, "max_parallel_requests": 1})
    concurrent = run_tap({**config, "max_parallel_requests": 6})

    for stream in ("interactions", "appointment_statistics", "appointment_trends"):
        assert [json.dumps(r, sort_keys=True) for r in concurrent.records(stream)] == [
            json.dumps(r, sort_keys=True) for r in sequential.records(stream)
        ], stream
    assert len(concurrent.ids("interactions")) == len(set(concurrent.ids("interactions"))) > 4000
    assert _without_run_moments(concurrent.last_state) == _without_run_moments(sequential.last_state)


def _gather(server, in_flight: int, contains: str) -> None:
    """The sandbox holds the first such requests until `in_flight` of them are in flight together."""
    requests.post(f"{server.url}/_sandbox/gather", json={"in_flight": in_flight, "contains": contains}, timeout=5)


def test_parallelism_is_used_and_never_exceeded(sandbox) -> None:
    server = sandbox(scale=3000)
    _gather(server, 3, "/call_log/interactions/")
    run = run_tap(liine_config(server.url, window_days=14, max_parallel_requests=3))
    timeline = requests.get(f"{server.url}/_sandbox/timeline", timeout=5).json()
    assert timeline["gathered"] and timeline["peak_in_flight"] == 3
    assert len(run.ids("interactions")) == 3000


def test_a_429_pauses_every_worker_for_retry_after(sandbox) -> None:
    server = sandbox(scale=3000, latency_ms=20, faults="429", every=15, retry_after=1)
    run = run_tap(liine_config(server.url, window_days=14, max_parallel_requests=4))
    assert len(run.ids("interactions")) == 3000
    timeline = requests.get(f"{server.url}/_sandbox/timeline", timeout=5).json()["requests"]
    throttled = [(arrived, path) for arrived, path, status in timeline if status == 429]
    assert throttled
    for moment, path in throttled:  # its retry waited the Retry-After (every worker with it: tests/test_workers.py)
        retry = min(a for a, p, status in timeline if p == path and a > moment and status != 429)
        assert retry >= moment + 1.0, (path, retry - moment)


def test_requests_per_second_are_capped(sandbox) -> None:
    server = sandbox(scale=600, customers=[101])
    began = time.monotonic()
    run_tap(
        liine_config(
            server.url, customer_ids=[101], window_days=10, max_requests_per_second=20, max_parallel_requests=4
        )
    )
    arrivals = [a for a, _, _ in requests.get(f"{server.url}/_sandbox/timeline", timeout=5).json()["requests"]]
    assert len(arrivals) > 30
    # Each request (the login too) starts 1/20 s after the one before at the earliest.
    assert max(arrivals) - began >= (len(arrivals) - 1) / 20


def test_locations_are_fetched_side_by_side_with_the_same_output(sandbox) -> None:
    from tap_liine.sandbox.conversations import ConversationsApi

    server = sandbox(scale=10, customers=[1], extra_apis=[ConversationsApi(conversations_per_location=120)])
    _gather(server, 2, "/conversations?")
    config = {
        "start_date": "2024-01-01T00:00:00Z",
        "conversations_api_url": server.url,
        "conversations_api_key": "demo-conversations-key",
        "conversations_subdomain": "bright-smiles",
        "conversations_location_ids": ["3001", "3002"],
        "conversations_page_size": 10,
        "retry_wait_seconds": 0.01,
    }
    concurrent = run_tap({**config, "max_parallel_requests": 4})
    timeline = requests.get(f"{server.url}/_sandbox/timeline", timeout=5).json()
    # each location pages one after another; the two locations side by side
    assert timeline["gathered"] and timeline["peak_in_flight"] == 2
    sequential = run_tap({**config, "max_parallel_requests": 1})
    for stream in ("conversations", "conversation_messages"):
        assert concurrent.ids(stream) == sequential.ids(stream)
    assert len(concurrent.ids("conversations")) == 240


def test_partitions_asked_out_of_order_or_twice_still_get_their_records(sandbox) -> None:
    from tap_liine.tap import TapLiine

    server = sandbox(scale=900)
    rows = liine_truth(server.url)
    truth = collections.defaultdict(set)
    for row in rows:
        truth[row["customer_id"]].add(row["id"])
    stream = TapLiine(config=liine_config(server.url, window_days=60)).streams["interactions"]
    for customer in (202, 101, 303):
        assert {r["id"] for r in stream.get_records({"customer_id": customer})} == truth[customer]
    # Asked again, a partition that is done reads what changed since its bookmark (less a day).
    changed = sorted(truth[101])[:3]
    requests.post(f"{server.url}/_sandbox/liine/touch", json={"ids": changed}, timeout=5)
    assert {r["id"] for r in stream.get_records({"customer_id": 101})} == set(changed)
