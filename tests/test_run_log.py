"""Quiet, useful logs: no false ERROR, no line per page, paced STATE, settings named, a summary at the end."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys

import requests

from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config, liine_config, logged, partitions, run_cli, run_tap, sent


def test_a_successful_connection_test_logs_no_error(sandbox, tmp_path) -> None:
    server = sandbox(scale=300, conversations={"conversations_per_location": 20}, interactly={"days": 10})
    result = run_cli(tmp_path, all_sources_config(server.url, start_date="2026-10-01T00:00:00Z"), "--test")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| ERROR" not in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines() if '"type":"RECORD"' in line]
    assert {r["stream"] for r in records} == {"interactions", "conversations", "appointment_statistics",
                                              "appointment_trends"}  # fmt: skip


def _states(stdout: str) -> list[dict]:
    return [json.loads(line)["value"] for line in stdout.splitlines() if '"type":"STATE"' in line]


def test_state_messages_are_paced_and_the_last_state_is_the_same(sandbox) -> None:
    server = sandbox(scale=1200, customers=[101, 202])
    config = liine_config(server.url, customer_ids=[101, 202], start_date="2026-09-01T00:00:00Z", window_days=10)
    every = run_tap({**config, "state_interval_seconds": 0})
    windows = len([p for p in sent(server.url, "/interactions") if "end_date" in p and "pagination_timestamp" not in p])

    paced = run_tap({**config, "state_interval_seconds": 1_000_000})

    # One per window and one per customer done, then the SDK's at the end of the stream.
    assert len(every.states) == windows + 2 + 1
    assert len(paced.states) == 2  # the first window's, and the end of the stream's
    assert paced.last_state == every.last_state
    assert sorted(paced.ids("interactions")) == sorted(every.ids("interactions"))


def test_a_failed_run_writes_the_state_it_held_back(sandbox, tmp_path) -> None:
    server = sandbox(scale=1200, customers=[101, 202])
    config = liine_config(server.url, customer_ids=[101, 202], max_parallel_requests=1,
                          start_date="2026-09-01T00:00:00Z", state_interval_seconds=1_000_000)  # fmt: skip
    requests.post(f"{server.url}/_sandbox/force", json={"contains": "customer_id=202", "status": 403}, timeout=5)

    result = run_cli(tmp_path, config)

    assert result.returncode == 1
    states = _states(result.stdout)
    assert len(states) == 2  # the first window's; then, as the run failed, what it had finished
    finished = partitions(states[-1], "interactions")[101]
    assert "backfill" not in finished and finished["replication_key_value"]
    started = partitions(states[-1], "interactions")[202]
    assert "replication_key_value" not in started and "done_through" not in started["backfill"]


def test_an_unknown_setting_is_named_with_the_closest_one(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="tap-liine")
    config = {**liine_config("http://127.0.0.1:9"), "lookback_day": 3, "zz_top": 1}
    TapLiine(config=config)
    assert [r.getMessage() for r in caplog.records] == [
        "Setting `lookback_day` is not a setting of tap-liine and is ignored; did you mean `lookback_days`?",
        "Setting `zz_top` is not a setting of tap-liine and is ignored; see the README's settings table.",
    ]


def test_a_misspelt_setting_is_named_with_the_closest_one_when_the_config_is_refused(tmp_path) -> None:
    config = {**liine_config("http://127.0.0.1:9"), "pasword": "demo-password"}
    del config["password"]

    result = run_cli(tmp_path, config)

    assert result.returncode == 1
    assert logged(result.stderr, "ERROR") == [
        "Setting `pasword` is not a setting of tap-liine and is ignored; did you mean `password`?",
        "Setting `password` is required when `customer_ids` is set: the tap logs in to Liine with `username` and "
        "`password` to extract interactions.",
        "Config validation failed",
    ]
    assert "demo-password" not in result.stderr


def test_the_summary_names_the_sources_whose_credentials_were_accepted_apart_from_the_streams(sandbox) -> None:
    server = sandbox(scale=50, conversations={"conversations_per_location": 5}, interactly={"days": 10})

    run = run_tap(all_sources_config(server.url, start_date="2026-11-20T00:00:00Z"))

    summary = run.log.split("Run summary:\n", 1)[1].splitlines()
    read = len(run.records("appointment_statistics"))
    # The Interactly key's check (a request outside any partition) is no partition of the stream.
    assert [line for line in summary if "appointment_statistics" in line] == [
        f"  appointment_statistics  integration 5eb7cf5a86d9755df3a6c593, appointment_type all: {read} records, "
        f"{read} pages"
    ]
    assert "credentials check" not in run.log
    assert summary.count("Credentials accepted by Interactly, Conversations, Liine.") == 1


def _run_env(tmp_path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TAP_LIINE_")}
    return subprocess.run(
        [sys.executable, "-m", "tap_liine", "--config", "ENV"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path, env={**clean, **env},
    )  # fmt: skip


def test_settings_from_the_environment_take_lists_as_users_write_them(sandbox, tmp_path) -> None:
    server = sandbox(scale=300, customers=[101, 202, 303])
    env = {
        "TAP_LIINE_API_URL": server.url,
        "TAP_LIINE_USERNAME": "demo",
        "TAP_LIINE_PASSWORD": "demo-password",
        "TAP_LIINE_START_DATE": "2026-10-01T00:00:00Z",
        "TAP_LIINE_CUSTOMER_IDS": "101, 202",
        "TAP_LIINE_INTERACTION_TYPES": "call,form",
    }
    result = _run_env(tmp_path, env)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line)["record"] for line in result.stdout.splitlines() if '"type":"RECORD"' in line]
    assert {r["customer_id"] for r in records} == {101, 202}
    assert {r["interaction_type"] for r in records} == {"call", "form"}
    assert "deprecated" not in result.stderr

    # Numbers and booleans as users write them (the SDK passed "2.5" on as a string).
    typed = {"TAP_LIINE_RETRY_WAIT_SECONDS": "2.5", "TAP_LIINE_LOOKBACK_DAYS": " 3", "TAP_LIINE_INCLUDE_SPAM": "False",
             "TAP_LIINE_MAX_RETRIES": "4"}  # fmt: skip
    again = _run_env(tmp_path, {**env, **typed})
    assert again.returncode == 0, again.stderr[-2000:]
    kept = sorted(r["id"] for r in records if not r["is_spam_likely"])
    assert 0 < len(kept) < len(records)  # include_spam=False leaves out the spam-likely ones
    assert sorted(json.loads(line)["record"]["id"] for line in again.stdout.splitlines() if '"RECORD"' in line) == kept

    bad = _run_env(tmp_path, {**env, "TAP_LIINE_CUSTOMER_IDS": "101;202", "TAP_LIINE_LOOKBACK_DAYS": "two",
                              "TAP_LIINE_RETRY_WAIT_SECONDS": "2,5", "TAP_LIINE_INCLUDE_SPAM": "maybe"})  # fmt: skip
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr and bad.stdout == ""
    for sentence in (
        "Environment variable `TAP_LIINE_CUSTOMER_IDS` (setting `customer_ids`) must be a JSON list or values "
        "separated by commas, such as 101,202; '101;202' is not.",
        "Environment variable `TAP_LIINE_LOOKBACK_DAYS` (setting `lookback_days`) must be a whole number such as 3; "
        "'two' is not.",
        "Environment variable `TAP_LIINE_RETRY_WAIT_SECONDS` (setting `retry_wait_seconds`) must be a number such "
        "as 2.5; '2,5' is not.",
        "Environment variable `TAP_LIINE_INCLUDE_SPAM` (setting `include_spam`) must be true or false; 'maybe' is not.",
    ):
        assert sentence in bad.stderr


def test_location_ids_given_as_numbers_are_the_same_locations(sandbox) -> None:
    server = sandbox(scale=10, customers=[1], conversations={"conversations_per_location": 15})
    config = all_sources_config(server.url, conversations_location_ids=[3001, 3002])
    config = {k: v for k, v in config.items() if k.startswith(("conversations", "start_date", "retry"))}
    run = run_tap(config)
    assert {r["location_id"] for r in run.records("conversations")} == {"3001", "3002"}
    assert {r["location_id"] for r in run.records("conversation_messages")} == {"3001", "3002"}
    assert sorted(partitions(run.last_state, "conversations")) == ["3001", "3002"]
    assert len(run.ids("conversations")) == 30


def test_the_run_ends_with_a_summary_of_what_each_partition_read(sandbox) -> None:
    server = sandbox(scale=1500, customers=[101, 202], faults="503,expire", every=4)
    config = liine_config(server.url, customer_ids=[101, 202], start_date="2026-09-01T00:00:00Z",
                          window_days=20, max_parallel_requests=1, page_size=100)  # fmt: skip

    run = run_tap(config)

    # Requests one after another: the request log and the status timeline line up.
    statuses = [status for _, _, status in server.timeline]
    paths = [path for _, path in server.request_log]
    assert len(statuses) == len(paths)
    answered = list(zip(paths, statuses, strict=True))
    pages = {c: sum(1 for p, s in answered if f"customer_id={c}&" in p and s == 200) for c in (101, 202)}
    retries = statuses.count(503)
    relogins = sum(1 for p, s in answered if "/interactions" in p and s == 401)
    assert retries and relogins
    records = {c: sum(1 for r in run.records("interactions") if r["customer_id"] == c) for c in (101, 202)}

    block = run.log[run.log.index("Run summary:") :].splitlines()
    total = records[101] + records[202]
    retried = f"{retries} retr{'y' if retries == 1 else 'ies'}, {relogins} re-login{'' if relogins == 1 else 's'}"
    assert block[1] == f"  interactions  {total:,} records, {pages[101] + pages[202]:,} pages, {retried}"
    for line, customer in zip(block[2:4], (101, 202), strict=True):
        assert line.startswith(f"                  customer {customer}: {records[customer]:,} records, "
                               f"{pages[customer]:,} pages")  # fmt: skip
    assert block[4] == "Credentials accepted by Liine."
    assert block[5] == "Noticed about the APIs:"
    assert block[6].startswith("  - interactions: Liine's pagination_timestamp is the oldest (last) interaction")
    # A warning per retry (a re-login is said at INFO); alike but for partition and numbers: one line,
    # with how often it came.
    lines, distinct = map(int, re.fullmatch(r"Warnings \((\d+) lines?, (\d+) distinct\):", block[7]).groups())
    listed = {line: int(line[4:].split(" x ")[0]) if " x " in line[:12] else 1 for line in block[8:]}
    assert len(listed) == distinct and sum(listed.values()) == lines
    assert [n for line, n in listed.items() if "/call_log/interactions/" in line and "answered 503" in line] == [
        retries
    ]
    assert "Pagination stopped" not in run.log
