"""A `meltano run` cancelled by SIGTERM to its tap: Meltano keeps the tap's last STATE, and the rows loaded.

(SIGTERM to `meltano` itself makes Meltano 4.4.1 terminate tap and target at once and save no
state: the README says so; not pinned here, it is Meltano's behaviour, not the tap's.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.server import SandboxServer
from tests.helpers import expected_interactions, partitions
from tests.meltano_project import MELTANO, ROOT, pg_env

pytestmark = pytest.mark.e2e

if not MELTANO.exists():
    pytest.skip("Meltano is not installed: run `make install` (make test does)", allow_module_level=True)


def children(pid: int) -> list[int]:
    """Every process descended from `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:  # ended meanwhile
            continue
        if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found += [int(entry.name), *children(int(entry.name))]
    return found


def tap_process(meltano_pid: int) -> int:
    """The pid of the tap-liine process `meltano run` started."""
    [tap] = [pid for pid in children(meltano_pid)
             if b"bin/tap-liine\0" in Path(f"/proc/{pid}/cmdline").read_bytes()]  # fmt: skip
    return tap


def test_sigterm_to_the_tap_under_meltano_run_keeps_its_last_state(pg, tmp_path) -> None:
    api = LiineApi(customers=[101], scale=900)
    suffix = uuid.uuid4().hex
    state_id = f"sandbox:tap-liine-to-target-postgres:{suffix}"
    with SandboxServer([api]) as server:
        # Windows of 30 days from 2025-11-01: the third one's request waits, so two are loaded.
        requests.post(f"{server.url}/_sandbox/hold", json={"contains": "start_date=2025-12-31"}, timeout=5)
        env = {**pg_env(pg, "cancelled"), "TAP_LIINE_API_URL": server.url, "TAP_LIINE_CUSTOMER_IDS": "[101]",
               "TAP_LIINE_START_DATE": "2025-11-01T00:00:00Z", "TAP_LIINE_WINDOW_DAYS": "30",
               "TAP_LIINE_MAX_PARALLEL_REQUESTS": "1", "TAP_LIINE__SELECT": '["interactions.*"]'}  # fmt: skip
        environment = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", **env)
        command = [str(MELTANO), "run", "--state-id-suffix", suffix, "tap-liine", "target-postgres"]
        with (tmp_path / "log").open("w") as log:
            run = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
            held = requests.get(f"{server.url}/_sandbox/hold", timeout=60).json()  # waits up to 30 s
            held = held["held"] or requests.get(f"{server.url}/_sandbox/hold", timeout=60).json()["held"]
            assert held == 1, (tmp_path / "log").read_text()[-3000:]
            os.kill(tap_process(run.pid), signal.SIGTERM)
            assert run.wait(timeout=300) == 1  # Meltano reports the tap's 143 as a failed run
        got = subprocess.run([str(MELTANO), "state", "get", state_id], cwd=ROOT, env=environment, capture_output=True,
                             text=True, timeout=300, check=True)  # fmt: skip
        state = json.loads(got.stdout)["singer_state"]
        with psycopg.connect(pg.dsn()) as con:
            first = {row[0] for row in con.execute("select id from cancelled.interactions")}

        truth = expected_interactions(server.url, [101], "2025-11-01")

    assert partitions(state, "interactions")[101]["backfill"]["done_through"] == "2025-12-30"
    # Two windows' rows landed (the target loads what it read before it ends); the third window
    # is the rerun's: test_cancel.py shows the tap resuming from such a state.
    assert first and first < truth
