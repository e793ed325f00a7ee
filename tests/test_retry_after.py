"""Retry-After: waited out on a 503 maintenance window as on a 429, logins included, up to
`max_retry_after_seconds`; a longer one fails the run at once, in one sentence."""

from __future__ import annotations

import re

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError

from tests.helpers import liine_config, liine_truth, run_tap

LOGIN = "/call_log/authenticate/"


def _maintenance(url: str, seconds: float, after: int) -> None:
    requests.post(f"{url}/_sandbox/maintenance", json={"seconds": seconds, "after": after}, timeout=5)


@pytest.mark.parametrize("after", [0, 1], ids=["from-the-login", "from-the-first-data-request"])
def test_a_maintenance_window_announced_with_retry_after_is_waited_out(sandbox, after) -> None:
    # 1.5 s of 503s announced as "Retry-After: 2"; two tries only, 10 ms apart without it.
    server = sandbox(scale=300, customers=[101])
    _maintenance(server.url, 1.5, after)
    config = liine_config(server.url, customer_ids=[101], window_days=60, max_retries=2, max_parallel_requests=4)

    run = run_tap(config)

    assert sorted(run.ids("interactions")) == sorted(r["id"] for r in liine_truth(server.url))
    statuses = [status for _, _, status in server.timeline]
    unavailable = statuses.count(503)
    # Every thread held back until the window had passed: the 503s are the requests already on
    # their way when the first one came back (one worker's or the login's alone at the start).
    assert statuses == [200] * after + [503] * unavailable + [200] * (len(statuses) - after - unavailable)
    assert (unavailable == 1) if after == 0 else (1 <= unavailable <= 4)
    assert server.timeline[after][1].startswith(LOGIN if after == 0 else "/call_log/interactions/?")


def test_a_retry_after_longer_than_allowed_fails_at_once_in_one_sentence(sandbox) -> None:
    server = sandbox(scale=300, customers=[101])
    _maintenance(server.url, 1.5, 0)
    config = liine_config(server.url, customer_ids=[101], max_retry_after_seconds=1)

    with pytest.raises(FatalAPIError) as failure:
        run_tap(config)

    assert str(failure.value) == (
        f"Login at {server.url}{LOGIN} answered 503 asking to retry after 2 s, longer than the setting "
        "`max_retry_after_seconds` allows (1 s): run again later, or raise that setting."
    )
    assert [path for _, path, _ in server.timeline] == [LOGIN]


def test_workers_held_by_one_answer_say_it_once_and_a_different_failure_is_said_too(sandbox) -> None:
    server = sandbox(scale=300, customers=[101])
    # The first 4 window requests (one per worker, all sent before the first answer is back):
    # 503 with Retry-After 1; the next one a 500 without it.
    for forced in ({"status": 503, "retry_after": 1, "times": 4, "hold": 0.5}, {"status": 500, "times": 1}):
        requests.post(f"{server.url}/_sandbox/force", json={"contains": "/call_log/interactions/", **forced}, timeout=5)
    config = liine_config(server.url, customer_ids=[101], window_days=60, max_parallel_requests=4)

    run = run_tap(config)

    assert sorted(run.ids("interactions")) == sorted(r["id"] for r in liine_truth(server.url))
    assert [status for _, _, status in server.timeline].count(503) == 4
    # The four 503s in one line; the 500 (to one of their retries, after the wait) in its own.
    said = [re.sub(r"window [\d.-]+", "window W", line) for line in run.said.splitlines() if "(try " in line]
    assert [re.sub(r"waiting \d\.\d\d s", "waiting", line) for line in said] == [
        "Liine GET /call_log/interactions/ (customer 101, window W) answered 503: Forced 503. (Retry-After: 1 s) "
        "(try 1 of 10); waiting",
        "Liine GET /call_log/interactions/ (customer 101, window W) answered 500: Forced 500. (try 2 of 10); waiting",
    ]
