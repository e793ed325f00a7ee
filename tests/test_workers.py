"""Workers that stop together, logins through the gate, and a conversations run that keeps little and says little."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import queue
import re
import signal
import threading
import time
import typing as t

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError

from tap_liine.errors import Cancelled
from tap_liine.gate import RequestGate
from tap_liine.pipeline import WORKER_NAME, WorkerThreads, in_order
from tap_liine.tap import TapLiine
from tests.helpers import (
    StartedThreads,
    all_sources_config,
    catalog_without,
    liine_config,
    quiet_after,
    run_tap,
    sent,
)


def test_a_request_refused_for_good_ends_the_run_with_its_error(sandbox) -> None:
    server = sandbox(scale=6000, customers=[101])
    config = liine_config(server.url, customer_ids=[101], start_date="2025-11-01T00:00:00Z", window_days=20,
                          page_size=50, max_parallel_requests=4)  # fmt: skip
    refused = "start_date=2026-01-20"  # the fifth window
    requests.post(f"{server.url}/_sandbox/force", json={"contains": refused, "status": 403}, timeout=5)

    with pytest.raises(FatalAPIError, match="403"):
        run_tap(config)

    asked = sent(server.url, "/call_log/interactions/")
    assert sum(refused in path for path in asked) == 1  # a 403 is not retried
    # Four workers: when the fifth window fails, at most the three after it have begun (of 20).
    windows = {re.search(r"start_date=([0-9-]{10})", path)[1] for path in asked}  # type: ignore[index]
    assert "2026-01-20" in windows and max(windows) <= "2026-03-21", sorted(windows)


def test_once_a_task_fails_no_other_worker_sends_a_request() -> None:
    gate = RequestGate(parallel=4)
    first_sent = threading.Barrier(4)
    failure_seen = threading.Event()
    sent: list[tuple[int, int]] = []
    ends: queue.Queue[tuple[int, str]] = queue.Queue()

    def request(task: int, number: int) -> int:
        with gate:
            sent.append((task, number))
        if number == 0:
            first_sent.wait(timeout=10)  # every worker is busy when task 1 fails
            if task == 1:
                raise RuntimeError("refused for good")
            failure_seen.wait(timeout=10)
        return number

    def produce(task: int) -> t.Iterator[int]:
        try:
            for number in range(3):
                yield request(task, number)
        except BaseException as exc:
            ends.put((task, type(exc).__name__))
            raise

    ordered = in_order([1, 2, 3, 4], produce, workers=4, gate=gate, threads=WorkerThreads())
    _, results = next(ordered)
    with pytest.raises(RuntimeError, match="refused for good"):
        list(results)
    failure_seen.set()
    assert sorted(ends.get(timeout=10) for _ in range(4)) == [
        (1, "RuntimeError"), (2, "Stopped"), (3, "Stopped"), (4, "Stopped")
    ]  # fmt: skip
    ordered.close()
    assert sorted(sent) == [(1, 0), (2, 0), (3, 0), (4, 0)]


def test_a_pause_holds_every_worker_until_it_ends() -> None:
    gate = RequestGate(parallel=4)
    asked = time.monotonic()
    gate.pause(0.3)  # a 429's Retry-After, as the HTTP layer passes it on
    entered: queue.Queue[float] = queue.Queue()

    def request() -> None:
        with gate:
            entered.put(time.monotonic())

    workers = [threading.Thread(target=request) for _ in range(4)]
    for worker in workers:
        worker.start()
    assert min(entered.get(timeout=10) for _ in workers) >= asked + 0.3


def test_no_hand_over_blocks_when_the_reader_has_gone() -> None:
    release = threading.Event()

    def produce(task: int) -> t.Iterator[int]:
        yield task
        yield task  # the queue (2 items) is now full
        release.wait()
        raise RuntimeError("fails after the reader has gone")

    threads = StartedThreads()
    ordered = in_order([1, 2], produce, workers=2, gate=RequestGate(parallel=2), threads=threads)
    next(ordered)
    ordered.close()  # the reader goes away with both queues full
    release.set()
    assert threads.join(timeout=10) == []
    assert [worker.name for worker in threads.started] == [f"{WORKER_NAME}-1", f"{WORKER_NAME}-2"]
    assert not any(worker.is_alive() for worker in threads.started)


def test_shared_resources_are_created_once_whichever_thread_asks_first(sandbox) -> None:
    server = sandbox(scale=50)
    tap = TapLiine(config=all_sources_config(server.url))
    stream = tap.streams["interactions"]
    seen: list[tuple[int, int, int]] = []
    start = threading.Barrier(8)

    def touch() -> None:
        start.wait()
        seen.append((id(tap.resources.gate), id(tap.resources.session), id(stream.authenticator)))

    threads = [threading.Thread(target=touch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len(set(seen)) == 1


def test_logins_go_through_the_gate_and_wait_for_their_retry_after(sandbox) -> None:
    server = sandbox(scale=600, customers=[101])
    requests.post(f"{server.url}/_sandbox/force",
                  json={"contains": "/call_log/authenticate/", "status": 429, "retry_after": 1}, timeout=5)  # fmt: skip

    run = run_tap(liine_config(server.url, customer_ids=[101], retry_wait_seconds=0.01))

    assert len(run.ids("interactions")) == 600
    timeline = server.timeline
    throttled = next(arrived for arrived, path, status in timeline if status == 429)
    after = [arrived for arrived, _, _ in timeline if arrived > throttled]
    assert after and min(after) >= throttled + 1.0  # the login's Retry-After held every request
    assert "Login at" in run.log and "answered 429" in run.log


def _conversations_config(url: str, **overrides: object) -> dict:
    config = all_sources_config(url, conversations_page_size=20, **overrides)
    return {k: v for k, v in config.items() if k.startswith(("conversations", "start_date", "retry", "stream_"))}


def test_messages_are_not_kept_when_their_stream_is_deselected(sandbox) -> None:
    server = sandbox(scale=10, customers=[1], conversations={"conversations_per_location": 60})
    config = _conversations_config(server.url)
    run = run_tap(config, catalog=catalog_without(config, "conversation_messages"))

    assert len(run.ids("conversations")) == 120 and run.ids("conversation_messages") == []
    assert run.tap.streams["conversations"].pending_messages == {}  # type: ignore[union-attr,attr-defined]
    assert all("include_messages=false" in path for path in sent(server.url, "/conversations?"))


def test_messages_are_not_kept_for_conversations_a_stream_map_filters_away(sandbox) -> None:
    server = sandbox(scale=10, customers=[1], conversations={"conversations_per_location": 60})
    maps = {"conversations": {"__filter__": "location_id == '3001'"}}
    run = run_tap(_conversations_config(server.url, stream_maps=maps))

    assert {r["location_id"] for r in run.records("conversations")} == {"3001"}
    assert {r["location_id"] for r in run.records("conversation_messages")} == {"3001"}
    assert run.tap.streams["conversations"].pending_messages == {}  # type: ignore[union-attr,attr-defined]


def test_a_conversations_run_logs_and_states_per_location_not_per_conversation(sandbox) -> None:
    small = sandbox(scale=10, customers=[1], conversations={"conversations_per_location": 60})
    states_of_a_small_run = len(run_tap(_conversations_config(small.url)).states)
    server = sandbox(scale=10, customers=[1], conversations={"conversations_per_location": 600, "max_messages": 6})
    run = run_tap(_conversations_config(server.url))

    assert len(run.ids("conversations")) == 1200 and len(run.ids("conversation_messages")) > 2000
    assert "Beginning sync of 'conversation_messages'" not in run.log
    assert "Starting incremental sync of 'conversation_messages'" not in run.log
    assert "progress is not resumable" not in run.log.lower()
    counts = [line for line in run.log.splitlines() if '"record_count"' in line and "conversation_messages" in line]
    assert len(counts) == 2  # one per location
    assert sum(json.loads(line.split("METRIC: ", 1)[1])["value"] for line in counts) == len(
        run.ids("conversation_messages")
    )
    # A few per location (its bookmark; the SDK's own start and end markers), none per conversation.
    assert len(run.states) == states_of_a_small_run <= 4 * 2 + 1
    assert sum(m["type"] == "SCHEMA" and m["stream"] == "conversation_messages" for m in run.messages) == 1


# ----- no worker outlives its run ------------------------------------------------------------------

WINDOWS = ["2025-11-01", "2025-12-01", "2025-12-31", "2026-01-30"]  # the first four of 30 days


class OnRetries(logging.Handler):
    """Does `then` once the tap has logged its `count`-th retry of a request answered `status` (a
    wait already said is logged again at DEBUG only)."""

    def __init__(self, status: int, count: int, then: t.Callable[[], object]) -> None:
        super().__init__()
        self._said, self._count, self._then, self._seen = f"answered {status}", count, then, 0
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno in (logging.WARNING, logging.DEBUG) and self._said in record.getMessage():
            with self._lock:
                self._seen += 1
                now = self._seen == self._count
            if now:
                self._then()


@contextlib.contextmanager
def retries_then(status: int, count: int, then: t.Callable[[], object]) -> t.Iterator[None]:
    handler, tap_log = OnRetries(status, count, then), logging.getLogger("tap-liine")
    level = tap_log.level
    logging.getLogger().addHandler(handler)
    tap_log.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        tap_log.setLevel(level)
        logging.getLogger().removeHandler(handler)


def _windows_config(url: str) -> dict[str, t.Any]:
    # A retry waits a minute: only a run that wakes its workers ends before then.
    return liine_config(url, customer_ids=[101], start_date="2025-11-01T00:00:00Z", window_days=30,
                        max_parallel_requests=4, retry_wait_seconds=60)  # fmt: skip


def _windows_asked(url: str) -> list[str]:
    """The first day of the window of every interactions request, once the tap is quiet."""
    asked = [re.search(r"start_date=([0-9-]{10})", path) for path in quiet_after(url)]
    return sorted(found[1] for found in asked if found)


def test_a_run_that_succeeds_has_joined_every_worker_it_started(sandbox) -> None:
    server = sandbox(scale=600, customers=[101])
    threads = StartedThreads()

    run = run_tap(_windows_config(server.url), threads=threads)

    assert threads.alive() == []
    assert len(run.ids("interactions")) == 600
    assert len(threads.started) == 1 + len(
        set(_windows_asked(server.url))
    )  # the credentials check, a worker per window


def test_a_connection_test_stops_the_workers_fetching_ahead_when_it_has_its_records(sandbox) -> None:
    server = sandbox(scale=600, customers=[101])
    tap = TapLiine(config=_windows_config(server.url))
    tap.resources.threads = threads = StartedThreads()

    with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")):
        assert tap.run_sync_dry_run(dry_run_record_limit=1)

    assert threads.alive() == []
    assert len(threads.started) >= 5  # the credentials check, the first window, at least three ahead of it
    assert set(_windows_asked(server.url)) >= set(WINDOWS)


def test_a_run_refused_for_good_wakes_the_workers_waiting_to_retry_and_joins_them(sandbox) -> None:
    server = sandbox(scale=600, customers=[101])
    first = f"start_date={WINDOWS[0]}"
    for window in WINDOWS[1:]:
        requests.post(
            f"{server.url}/_sandbox/force", json={"contains": f"start_date={window}", "status": 500}, timeout=5
        )
    requests.post(f"{server.url}/_sandbox/force", json={"contains": first, "status": 403}, timeout=5)
    requests.post(f"{server.url}/_sandbox/hold", json={"contains": first}, timeout=5)
    threads = StartedThreads()

    # The first window is refused once the three others wait to retry.
    release = lambda: requests.post(f"{server.url}/_sandbox/hold", json={"release": True}, timeout=5)  # noqa: E731
    with retries_then(500, 3, release), pytest.raises(FatalAPIError, match="403"):
        run_tap(_windows_config(server.url), threads=threads)

    assert threads.alive() == []
    assert len(threads.started) == 5  # the credentials check, then a worker per window
    assert _windows_asked(server.url) == WINDOWS  # each once: no retry went out


def test_a_cancel_wakes_the_workers_waiting_to_retry_and_joins_them(sandbox) -> None:
    server = sandbox(scale=600, customers=[101])
    requests.post(f"{server.url}/_sandbox/force",
                  json={"contains": "/call_log/interactions/", "status": 500, "times": 4}, timeout=5)  # fmt: skip
    threads = StartedThreads()
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)

    try:
        with retries_then(500, 4, lambda: os.kill(os.getpid(), signal.SIGTERM)), pytest.raises(Cancelled):
            run_tap(_windows_config(server.url), threads=threads)
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])

    assert threads.alive() == []
    assert len(threads.started) == 5  # the credentials check, then a worker per window
    assert _windows_asked(server.url) == WINDOWS  # each once: no retry went out
