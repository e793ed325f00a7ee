"""Running the tap against a sandbox and reading what it emitted."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import io
import json
import logging
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import requests

from tap_liine.pipeline import WorkerThreads
from tap_liine.tap import TapLiine

DEMO_LOGIN = {"username": "demo", "password": "demo-password"}


@dataclasses.dataclass
class Run:
    """What one tap run wrote: Singer messages by kind, and its log."""

    messages: list[dict[str, t.Any]]
    log: str
    tap: TapLiine | None = None
    out: str = ""  # stdout as written, e.g. to read numbers exactly (json.loads(line, parse_float=Decimal))

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    def ids(self, stream: str, key: str = "id") -> list[t.Any]:
        return [r[key] for r in self.records(stream)]

    def schema(self, stream: str) -> dict[str, t.Any]:
        return next(m["schema"] for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream)

    @property
    def said(self) -> str:
        """The log before the run summary, which repeats what was noticed and warned."""
        return self.log.split("Run summary", 1)[0]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, t.Any]:
        return self.states[-1]


def run_tap(
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
    threads: WorkerThreads | None = None,
) -> Run:
    """Run the tap in this process, as `tap-liine --config ... --state ... --catalog ...` would
    (its worker threads started by `threads`, when given)."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    root = logging.getLogger()
    root.addHandler(handler)
    for name in ("tap-liine", "singer_sdk.metrics"):  # INFO as the CLI's logging config, or DEBUG if a test chose it
        logging.getLogger(name).setLevel(min(logging.getLogger(name).level or logging.INFO, logging.INFO))
    try:
        with contextlib.redirect_stdout(out):
            tap = TapLiine(config=config, state=state, catalog=catalog, validate_config=True)
            if threads is not None:
                tap.resources.threads = threads
            tap.sync_all()
            out.flush()
    finally:
        root.removeHandler(handler)
    raw = out.buffer.getvalue().decode()  # type: ignore[attr-defined]
    return Run([json.loads(line) for line in raw.splitlines() if line.strip()], log.getvalue(), tap, raw)


class StartedThreads(WorkerThreads):
    """Worker threads as the tap starts them, each kept here (the tap itself forgets those that ended)."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[threading.Thread] = []

    def start(self, target: t.Callable[..., None], *args: t.Any) -> threading.Thread:
        thread = super().start(target, *args)
        self.started.append(thread)
        return thread

    def alive(self) -> list[threading.Thread]:
        return [thread for thread in self.started if thread.is_alive()]


def quiet_after(url: str) -> list[str]:
    """The API requests the sandbox received, once a request of the test's own has been answered
    after them: one the tap sent before (its handler still running) or sends later would follow it."""
    before = sent(url)
    assert requests.get(f"{url}/_sandbox-sentinel", timeout=10).status_code == 404
    assert sent(url) == [*before, "/_sandbox-sentinel"], "the tap sent requests after its run ended"
    return before


def catalog_without(config: dict[str, t.Any], *streams: str) -> dict[str, t.Any]:
    """The tap's catalog with these streams deselected."""
    catalog = TapLiine(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] not in streams
    return catalog


def sent(url: str, contains: str = "") -> list[str]:
    """Paths (with queries) of the API requests the sandbox received, in order."""
    return [path for _, path in requests.get(f"{url}/_sandbox/requests", timeout=10).json() if contains in path]


def partitions(state: dict[str, t.Any], stream: str) -> dict[t.Any, dict[str, t.Any]]:
    """A stream's partition states by the value of their (single or first) context key."""
    return {next(iter(p["context"].values())): p for p in state["bookmarks"][stream]["partitions"]}


def run_cli(
    tmp_path: Path, config: dict[str, t.Any], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI in a subprocess: exit code, stdout, stderr."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", "tap_liine", "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def logged(stderr: str, level: str) -> list[str]:
    """The messages of the CLI's log lines at `level` (its format: time | level | logger | message)."""
    return [line.split(" | ", 3)[3] for line in stderr.splitlines() if line.count(" | ") >= 3 and f"| {level}" in line]


def liine_truth(url: str) -> list[dict[str, t.Any]]:
    return requests.get(f"{url}/_sandbox/liine/truth", timeout=30).json()  # type: ignore[no-any-return]


def liine_config(url: str, **overrides: t.Any) -> dict[str, t.Any]:
    config: dict[str, t.Any] = {
        "api_url": url,
        **DEMO_LOGIN,
        "customer_ids": [101, 202, 303],
        "start_date": "2024-01-01T00:00:00Z",
        "retry_wait_seconds": 0.01,
        "max_retries": 10,  # the sandbox's fault schedules are far denser than a real API's
    }
    config.update(overrides)
    return config


def all_sources_config(url: str, **overrides: t.Any) -> dict[str, t.Any]:
    """The three sources of one sandbox, with its demo credentials."""
    sources = {
        "conversations_api_url": url,
        "conversations_api_key": "demo-conversations-key",
        "conversations_subdomain": "bright-smiles",
        "conversations_location_ids": ["3001", "3002"],
        "interactly_api_url": url,
        "interactly_api_key": "demo-interactly-key",
        "interactly_integration_ids": ["5eb7cf5a86d9755df3a6c593"],
    }
    return liine_config(url, **{**sources, **overrides})


def expected_interactions(url: str, customers: t.Iterable[int], start_day: str, **params: str) -> set[int]:
    """Ids a complete extraction must emit, as the sandbox's own reading of the API filters them."""
    ids: set[int] = set()
    for customer in customers:
        query = {"customer_id": customer, "start_date": start_day, "include_is_spam_likely": "true", **params}
        ids.update(requests.get(f"{url}/_sandbox/liine/expected", params=query, timeout=30).json())
    return ids


def validate_records(run: Run) -> int:
    """Every record of every stream against the SCHEMA the run emitted for it, formats checked."""
    from jsonschema import Draft7Validator, FormatChecker

    checker = FormatChecker()
    assert not checker.conforms("2026-13-01 25:00", "date-time"), "date-times go unchecked: install rfc3339-validator"
    checked = 0
    for stream in {m["stream"] for m in run.messages if m["type"] == "RECORD"}:
        validator = Draft7Validator(run.schema(stream), format_checker=checker)
        for record in run.records(stream):
            errors = list(validator.iter_errors(record))
            assert not errors, (stream, record.get("id"), errors[0].message)
            checked += 1
    return checked


def _dashboard(url: str, integration: str, day: str | None = None) -> dict[str, t.Any]:
    params = {"integration_id": integration, "appointment_type": "all", **({"day": day} if day else {})}
    return requests.get(f"{url}/_sandbox/interactly/dashboard", params=params, timeout=10).json()


def _as_counts(entries: list[dict[str, t.Any]]) -> dict[t.Any, t.Any]:
    return {entry["_id"]: entry["count"] for entry in entries}


def check_interactly_figures(url: str, run: Run, start: dt.date, integrations: t.Sequence[str]) -> None:
    """Every day's statistics and every trend day equal the Interactly sandbox's truth, once each."""
    today = dt.datetime.now(dt.timezone.utc).date()
    days = [start + dt.timedelta(days=n) for n in range((today - start).days + 1)]
    statistics = run.records("appointment_statistics")
    trends = run.records("appointment_trends")
    for stream in (statistics, trends):
        keys = [(r["integration_id"], r["appointment_type"], r["date"]) for r in stream]
        assert len(keys) == len(set(keys))
    for integration in integrations:
        rows = {r["date"][:10]: r for r in statistics if r["integration_id"] == integration}
        assert sorted(rows) == [d.isoformat() for d in days]
        for day in days:
            truth = _dashboard(url, integration, day.isoformat())
            row = rows[day.isoformat()]
            assert row["total"] == truth["overview"]["total"], (integration, day)
            for name in ("source", "utm_source", "utm_medium", "utm_campaign"):
                assert _as_counts(row[name]) == _as_counts(truth[name]), (integration, day, name)
        # Trends: one row per UTC day on which the API's buckets start, with their figures.
        expected: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
        entries = _dashboard(url, integration)["trends"]
        # A practice's local day starting the day before reaches into the first day: its row comes too.
        local_days = len({e["_id"][11:19] for e in entries}) <= 2 and entries[0]["_id"][11:19] != "00:00:00"
        first = start - dt.timedelta(days=1 if local_days else 0)
        for entry in entries:
            day = dt.datetime.fromisoformat(entry["_id"].replace("Z", "+00:00")).date()
            if first <= day <= today:
                expected[day.isoformat()][0] += entry["successful"]
                expected[day.isoformat()][1] += entry["failed"]
        got = {r["date"][:10]: [r["successful"], r["failed"]] for r in trends if r["integration_id"] == integration}
        assert got == dict(expected), integration
