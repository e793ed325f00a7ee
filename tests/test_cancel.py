"""An orchestrator's cancel (SIGTERM, or SIGINT from a terminal): the state of what was emitted, then a
non-zero exit; the rerun from that state reads exactly what is missing. The cancel is acted on while a
request is in flight: each run below ends while the sandbox still holds its request (never answered)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import typing as t

import pytest
import requests

from tests.helpers import expected_interactions, liine_config, partitions, run_tap

if t.TYPE_CHECKING:
    from pathlib import Path

# Sent to the tap as soon as its run of the catalog begins, before any stream is discovered.
CANCELLED_IN_DISCOVERY = """
import os, signal
from tap_liine.tap import TapLiine
run_discovery = TapLiine.run_discovery
def cancelled_meanwhile(self):
    os.kill(os.getpid(), signal.SIGTERM)
    return run_discovery(self)
TapLiine.run_discovery = cancelled_meanwhile
TapLiine.cli()
"""

# Sent to the tap once every stream has read all it had to, before the run's final STATE.
CANCELLED_AFTER_READING = """
import os, signal
from singer_sdk.streams.core import Stream
log_sync_costs = Stream.log_sync_costs
sent = []
def cancelled_meanwhile(self):
    if not sent:
        sent.append(os.kill(os.getpid(), signal.SIG{name}))
    return log_sync_costs(self)
Stream.log_sync_costs = cancelled_meanwhile
from tap_liine.tap import TapLiine
TapLiine.cli()
"""


def cancel_while_held(url: str, config: dict[str, t.Any], tmp_path: Path, sig: signal.Signals) -> tuple[int, str, str]:
    """Run the tap until the sandbox holds a request, signal it: (exit code, stdout, stderr).
    The held request is never released before the tap has ended."""
    path, out, log = tmp_path / "config.json", tmp_path / "stdout", tmp_path / "stderr"
    path.write_text(json.dumps(config))
    with out.open("w") as stdout, log.open("w") as stderr:  # files: a full pipe would stop the tap
        tap = subprocess.Popen([sys.executable, "-m", "tap_liine", "--config", str(path)], stdout=stdout, stderr=stderr)
        assert requests.get(f"{url}/_sandbox/hold", timeout=60).json() == {"held": 1}, "no request was held"
        tap.send_signal(sig)
        tap.wait(timeout=300)
    # Ended while its request is still held: the cancel did not wait for the answer.
    assert requests.get(f"{url}/_sandbox/hold", timeout=5).json() == {"held": 1}
    return tap.returncode, out.read_text(), log.read_text()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_cancelled_run_writes_its_state_exits_non_zero_and_loses_nothing(sandbox, tmp_path, sig, code) -> None:
    server = sandbox(scale=900, customers=[101])
    # Windows of 30 days from 2025-11-01: the third one's first request waits, so two windows are
    # read and emitted, and the run is certainly not finished, when the signal comes.
    requests.post(f"{server.url}/_sandbox/hold", json={"contains": "start_date=2025-12-31"}, timeout=5)
    config = liine_config(server.url, customer_ids=[101], start_date="2025-11-01T00:00:00Z", window_days=30,
                          max_parallel_requests=1)  # fmt: skip

    returncode, out, err = cancel_while_held(server.url, config, tmp_path, sig)

    assert returncode == code, err[-2000:]
    assert f"Cancelled by {sig.name}: stopped early" in err and "Traceback" not in err
    answered = requests.get(f"{server.url}/_sandbox/timeline", timeout=5).json()["requests"]
    assert not [path for _, path, _ in answered if "start_date=2025-12-31" in path]
    messages = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert messages[-1]["type"] == "STATE"
    state = messages[-1]["value"]
    emitted = {m["record"]["id"] for m in messages if m["type"] == "RECORD"}
    truth = expected_interactions(server.url, [101], "2025-11-01")
    assert emitted and emitted < truth
    done_through = partitions(state, "interactions")[101]["backfill"]["done_through"]
    assert done_through == "2025-12-30"

    requests.post(f"{server.url}/_sandbox/hold", json={"release": True}, timeout=5)
    rerun = run_tap(config, state=state)

    again = set(rerun.ids("interactions"))
    assert again | emitted == truth
    assert len(again) == len(rerun.ids("interactions"))
    # Read twice: only records after the last window the state says is done (each window also
    # reads the day after it, whatever `end_date` means).
    starts = {r["id"]: r["start_time"][:10] for r in rerun.records("interactions")}
    assert all(starts[i] > done_through for i in again & emitted)
    assert len(again & emitted) < len(truth - emitted) / 10


def test_a_cancel_during_the_login_ends_at_once_with_the_state_it_was_given(sandbox, tmp_path) -> None:
    server = sandbox(scale=50, customers=[101])
    requests.post(f"{server.url}/_sandbox/hold", json={"contains": "/authenticate"}, timeout=5)
    config = liine_config(server.url, customer_ids=[101], start_date="2025-11-01T00:00:00Z")

    returncode, out, err = cancel_while_held(server.url, config, tmp_path, signal.SIGTERM)

    assert returncode == 143, err[-2000:]
    assert "Cancelled by SIGTERM: stopped early" in err and "Traceback" not in err
    assert [path for _, path in requests.get(f"{server.url}/_sandbox/requests", timeout=5).json()] == [
        "/call_log/authenticate/"
    ]
    messages = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [m["type"] for m in messages] == ["SCHEMA", "STATE"]
    assert partitions(messages[-1]["value"], "interactions")[101] == {
        "context": {"customer_id": 101},
        "starting_replication_value": "2025-11-01T00:00:00Z",
    }


def test_a_cancel_during_discovery_ends_with_one_line(tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(liine_config("http://127.0.0.1:9", customer_ids=[101])))

    tap = subprocess.run(
        [sys.executable, "-c", CANCELLED_IN_DISCOVERY, "--discover", "--config", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert tap.returncode == 143, tap.stderr[-2000:]
    assert "Cancelled by SIGTERM during discovery" in tap.stderr and "Traceback" not in tap.stderr
    assert tap.stdout == ""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_cancel_after_the_last_stream_read_still_exits_non_zero_after_the_final_state(
    sandbox, tmp_path, sig, code
) -> None:
    server = sandbox(scale=300, customers=[101])
    path = tmp_path / "config.json"
    path.write_text(json.dumps(liine_config(server.url, customer_ids=[101], start_date="2025-11-01T00:00:00Z")))

    tap = subprocess.run(
        [sys.executable, "-c", CANCELLED_AFTER_READING.format(name=sig.name[3:]), "--config", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert tap.returncode == code, tap.stderr[-2000:]
    assert f"Cancelled by {sig.name}: stopped early" in tap.stderr and "Traceback" not in tap.stderr
    messages = [json.loads(line) for line in tap.stdout.splitlines() if line.strip()]
    assert messages[-1]["type"] == "STATE"
    emitted = [m["record"]["id"] for m in messages if m["type"] == "RECORD"]
    assert sorted(emitted) == sorted(expected_interactions(server.url, [101], "2025-11-01"))
    # Everything was read: the final state says so, and a run from it starts after the bookmark.
    done = partitions(messages[-1]["value"], "interactions")[101]
    assert "backfill" not in done and done["replication_key_value"]
