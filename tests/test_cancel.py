"""An orchestrator's cancel (SIGTERM, or SIGINT from a terminal): the state of what was emitted, then a
non-zero exit; the rerun from that state reads exactly what is missing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import requests

from tests.helpers import expected_interactions, liine_config, partitions, run_tap


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_cancelled_run_writes_its_state_exits_non_zero_and_loses_nothing(sandbox, tmp_path, sig, code) -> None:
    server = sandbox(scale=900, customers=[101])
    # The login and two windows are answered; the third window's request waits until the end,
    # so the run is certainly under way, and not finished, when the signal comes.
    requests.post(f"{server.url}/_sandbox/hold", json={"after": 3}, timeout=5)
    config = liine_config(server.url, customer_ids=[101], start_date="2025-11-01T00:00:00Z", window_days=30,
                          max_parallel_requests=1)  # fmt: skip
    path, log = tmp_path / "config.json", tmp_path / "stderr"
    path.write_text(json.dumps(config))
    with log.open("w") as stderr:
        tap = subprocess.Popen(
            [sys.executable, "-m", "tap_liine", "--config", str(path)], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        assert tap.stdout is not None
        lines = []
        while not lines or '"type":"RECORD"' not in lines[-1].replace(" ", ""):
            lines.append(tap.stdout.readline())
            assert lines[-1], "the tap ended before emitting a record"
        tap.send_signal(sig)
        out = tap.stdout.read()
        tap.wait(timeout=60)
    err = log.read_text()

    assert tap.returncode == code, err[-2000:]
    assert f"Cancelled by {sig.name}" in err and "Traceback" not in err
    messages = [json.loads(line) for line in [*lines, *out.splitlines()] if line.strip()]
    assert messages[-1]["type"] == "STATE"
    state = messages[-1]["value"]
    emitted = {m["record"]["id"] for m in messages if m["type"] == "RECORD"}
    truth = expected_interactions(server.url, [101], "2025-11-01")
    assert emitted and emitted < truth
    done_through = partitions(state, "interactions")[101]["backfill"]["done_through"]

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
