"""Patient data stays inside the controls the user sets: stream maps and selection at any depth
apply to BATCH files exactly as to RECORD messages; BATCH files are private and never left
unfinished; no planted value reaches a file or log line it was mapped away from."""

from __future__ import annotations

import collections
import contextlib
import copy
import gzip
import hashlib
import io
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
import typing as t
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from singer_sdk.exceptions import FatalAPIError

from tap_liine.sandbox.liine_data import PLANTED
from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config, liine_config, liine_truth, run_cli, run_tap, sent

STREAM_MAPS = {
    # Caller details: nulled and hashed; customer 303's calls filtered away.
    "interactions": {
        "name": "__NULL__",
        "phone_number": None,
        "email": "md5(email) if email else None",
        "__filter__": "customer_id != 303",
    },
    # A second stream from the same records: only ids and a hash of the caller's name.
    "interaction_ids": {"__source__": "interactions", "id": "id", "caller": "md5(name)", "__else__": "__NULL__"},
    # Message bodies hashed, senders nulled, the stream renamed.
    "conversation_messages": {
        "__alias__": "messages",
        "body": "md5(body) if body else None",
        "sender_info": "__NULL__",
    },
    "conversations": {},
    "__else__": "__NULL__",  # the Interactly streams: not wanted at all
}
# Nested deselection: the patient object keeps only what is not identifying.
DESELECTED = [("conversations", "patient", field) for field in ("email", "first_name", "last_name", "name", "bio")]
MAPPED_STREAMS = {"interactions", "interaction_ids", "conversations", "messages"}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # what the SDK's md5() computes


def _catalog(config: dict[str, t.Any]) -> dict[str, t.Any]:
    catalog = TapLiine(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            crumb = tuple(metadata["breadcrumb"])
            nested = tuple(part for i, part in enumerate(crumb) if i % 2)  # ("properties", a, "properties", b)
            if (entry["tap_stream_id"], *nested) in DESELECTED:
                metadata["metadata"]["selected"] = False
    return catalog


def _read_batch(url: str) -> list[dict[str, t.Any]]:
    path = Path(url.removeprefix("file://"))
    if ".parquet" in path.name:
        return [_without_nulls(row) for row in pq.read_table(path).to_pylist()]
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [json.loads(line) for line in raw.splitlines()]


def _without_nulls(value: t.Any) -> t.Any:
    """Parquet gives every record of a file every column (absent as null): compared without them."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _schemas(messages: list[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    return {m["stream"]: m["schema"] for m in messages if m["type"] == "SCHEMA"}


@pytest.fixture(scope="module")
def planted_server() -> t.Iterator[str]:
    from tap_liine.sandbox.conversations import ConversationsApi
    from tap_liine.sandbox.interactly import InteractlyApi
    from tap_liine.sandbox.liine import LiineApi
    from tap_liine.sandbox.server import SandboxServer

    apis = [
        LiineApi(scale=600, planted=True),
        ConversationsApi(conversations_per_location=60, max_messages=4, planted=True),
        InteractlyApi(days=5),
    ]
    server = SandboxServer(apis).start()
    yield server.url
    server.stop()


def _config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    # A copy each time: the SDK's mapper pops `__else__` from the settings it is given.
    return all_sources_config(url, start_date="2025-06-01T00:00:00Z", stream_maps=copy.deepcopy(STREAM_MAPS), **extra)


@pytest.fixture(scope="module")
def record_run(planted_server: str) -> t.Any:
    return run_tap(_config(planted_server), catalog=_catalog(_config(planted_server)))


@pytest.mark.parametrize(("fmt", "compression"), [("jsonl", "gzip"), ("jsonl", "none"), ("parquet", "none")])
def test_batch_files_hold_exactly_what_record_messages_carry(planted_server, record_run, tmp_path, fmt, compression):
    batch_config = {"encoding": {"format": fmt, "compression": compression},
                    "storage": {"root": f"file://{tmp_path}/batches"}, "batch_size": 100}  # fmt: skip
    config = _config(planted_server, batch_config=batch_config)
    run = run_tap(config, catalog=_catalog(_config(planted_server)))

    expected = collections.defaultdict(list)
    # Parquet holds decimals as Decimal columns: the RECORD lines read the same way to compare.
    messages = (
        [json.loads(line, parse_float=Decimal) for line in record_run.out.splitlines()]
        if fmt == "parquet"
        else (record_run.messages)
    )
    for message in (m for m in messages if m["type"] == "RECORD"):
        expected[message["stream"]].append(message["record"])
    assert set(expected) == MAPPED_STREAMS
    got = collections.defaultdict(list)
    urls = []
    for message in (m for m in run.messages if m["type"] == "BATCH"):
        assert message["encoding"] == {"format": fmt, "compression": compression}
        urls.extend(message["manifest"])
        got[message["stream"]].extend(record for url in message["manifest"] for record in _read_batch(url))
    assert len(urls) == len(set(urls))  # each file announced once, under one stream name
    assert set(got) == MAPPED_STREAMS
    for stream, records in expected.items():
        wanted = [_without_nulls(r) for r in records] if fmt == "parquet" else records
        assert got[stream] == wanted, stream
    assert _schemas(run.messages) == _schemas(record_run.messages)
    assert not [m for m in run.messages if m["type"] == "RECORD"]

    # The maps did their work, on planted values: hashes of them, never the values themselves.
    interactions = {r["id"]: r for r in expected["interactions"]}
    assert len(interactions) > 100 and {r["customer_id"] for r in interactions.values()} == {101, 202}
    assert all(r["email"] == _md5(f"{PLANTED}.{i}@example.com") and "name" not in r for i, r in interactions.items())
    assert [r["caller"] for r in expected["interaction_ids"]][:3] == [
        _md5(f"{PLANTED} Caller {r['id']}") for r in expected["interaction_ids"][:3]
    ]
    assert all(r["body"] == _md5(f"{PLANTED} body {r['id']}") for r in expected["messages"])
    patients = [r["patient"] for r in expected["conversations"]]
    assert len(patients) == 120 and all(p["id"] and not {"email", "name", "bio"} & set(p) for p in patients)
    assert PLANTED not in json.dumps(got, default=str) + json.dumps(record_run.messages) + record_run.log + run.log


def test_flattened_batch_files_equal_flattened_records(planted_server, tmp_path) -> None:
    config = all_sources_config(planted_server, start_date="2025-06-01T00:00:00Z", flattening_enabled=True,
                                flattening_max_depth=1, conversations_location_ids=["3001"])  # fmt: skip
    config = {
        k: v for k, v in config.items() if not k.startswith(("interactly", "customer_ids", "username", "password"))
    }
    batch_config = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": f"file://{tmp_path}"}}
    records = run_tap(config).records("conversations")
    run = run_tap({**config, "batch_config": batch_config})

    urls = [
        url for m in run.messages if m["type"] == "BATCH" and m["stream"] == "conversations" for url in m["manifest"]
    ]
    assert [r for url in urls for r in _read_batch(url)] == records
    assert len(records) == 60 and "patient__email" in records[0] and "patient" not in records[0]


# ----- files: inside the root, private, complete or absent ------------------------------------


def test_schema_only_writes_the_schemas_of_a_run_under_its_maps_and_catalog(planted_server, record_run, tmp_path):
    # What a loader creates its tables from before shards load side by side (orchestrate/): the
    # deselected patient fields, the removed streams and the aliases exactly as the run had them.
    config = _config(planted_server)
    (tmp_path / "catalog.json").write_text(json.dumps(_catalog(_config(planted_server))))
    before = sent(planted_server)

    done = run_cli(tmp_path, config, "--catalog", str(tmp_path / "catalog.json"), "--test=schema")

    assert done.returncode == 0, done.stderr
    messages = [json.loads(line) for line in done.stdout.splitlines()]
    assert {m["type"] for m in messages} == {"SCHEMA"}
    assert _schemas(messages) == _schemas(record_run.messages)
    assert set(_schemas(messages)) == MAPPED_STREAMS
    assert sent(planted_server) == before  # not one request


@pytest.fixture
def umask_zero() -> t.Iterator[None]:
    """The loosest umask: modes must not depend on it."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def _listing(folder: Path) -> dict[str, int]:
    """Every file and folder under `folder`, relative, with its permission bits."""
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in sorted(folder.rglob("*"))}


def _batch_settings(url: str, root: Path, batch_size: int) -> dict[str, t.Any]:
    batch_config = {"encoding": {"format": "jsonl", "compression": "gzip"}, "storage": {"root": f"file://{root}"},
                    "batch_size": batch_size}  # fmt: skip
    return liine_config(url, customer_ids=[101, 202], max_retries=2, batch_config=batch_config)


def _announced(stdout: str) -> list[str]:
    messages = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [Path(url).name for m in messages if m["type"] == "BATCH" for url in m["manifest"]]


def test_a_failed_run_leaves_only_its_announced_files_all_private(sandbox, tmp_path, monkeypatch, umask_zero):
    server = sandbox(scale=6000, customers=[101, 202], planted=True)
    requests.post(f"{server.url}/_sandbox/force", json={"contains": "customer_id=202", "status": 503, "times": 99},
                  timeout=5)  # fmt: skip
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    root = tmp_path / "out" / "batches"
    result = run_cli(tmp_path, _batch_settings(server.url, root, batch_size=2000))

    assert result.returncode == 1
    first = [r for r in liine_truth(server.url) if r["customer_id"] == 101]
    assert len(first) == 3000  # customer 101: one file announced (2,000), a second one unfinished when 202 failed
    [announced] = _announced(result.stdout)
    assert _listing(tmp_path / "out") == {"batches": 0o700, f"batches/{announced}": 0o600}
    assert _listing(tmp_path / "tmp") == {}
    assert PLANTED not in result.stderr


def test_a_killed_run_leaves_nothing_outside_the_root_and_the_next_run_removes_its_unfinished_file(
    sandbox, tmp_path, monkeypatch, umask_zero
):
    server = sandbox(scale=3000, customers=[101, 202], planted=True)
    # The tap waits for customer 202's first page with 1,000+ of customer 101's records in an open file.
    requests.post(f"{server.url}/_sandbox/force", json={"contains": "customer_id=202", "hold": 30}, timeout=5)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    root = tmp_path / "batches"
    config = _batch_settings(server.url, root, batch_size=100_000)
    (tmp_path / "config.json").write_text(json.dumps(config))
    tap = subprocess.Popen([sys.executable, "-m", "tap_liine", "--config", str(tmp_path / "config.json")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        unfinished = _wait_for_part_file(root, tap, server.url)
    finally:
        tap.send_signal(signal.SIGKILL)
        tap.wait()
    assert unfinished.name.startswith(".tap-liine--interactions-") and unfinished.name.endswith(f".{tap.pid}.part")
    assert _listing(tmp_path) == {"batches": 0o700, f"batches/{unfinished.name}": 0o600, "config.json": 0o666,
                                  "tmp": 0o777}  # fmt: skip

    run = run_tap(config)
    files = [Path(url).name for m in run.messages if m["type"] == "BATCH" for url in m["manifest"]]
    assert _listing(root) == dict.fromkeys(files, 0o600) and len(files) == 1
    assert f"Removed 1 unfinished BATCH file(s) from {root}, left by a run that was stopped." in run.log


def _wait_for_part_file(root: Path, tap: subprocess.Popen[bytes], url: str) -> Path:
    """The tap's unfinished file, once it exists and the tap waits on the held request."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and tap.poll() is None:
        found = list(root.glob(".*.part")) if root.exists() else []
        if found and sent(url, "customer_id=202"):
            return found[0]
        time.sleep(0.05)  # polling for a condition, not waiting a set time
    pytest.fail("the tap never opened a BATCH file")


# ----- logs and errors: the API's own words, never a body's data ------------------------------

PATIENT = {"id": 1, "name": f"{PLANTED} Patient", "email": f"{PLANTED}@example.com", "bio": {"phone_number": PLANTED}}
CALLER = {"id": 1, "name": f"{PLANTED} Caller", "phone_number": f"+1919{PLANTED}", "email": f"{PLANTED}@example.com"}
CONVERSATION = {"id": 9, "patient": PATIENT, "messages": [{"id": 5, "body": f"{PLANTED} body"}]}
CONVERSATIONS = "Conversations GET /conversations (location 3001)"
INTERACTIONS = "Liine GET /call_log/interactions/ (customer 101"


@pytest.mark.parametrize(
    ("forced", "said"),
    [
        pytest.param({"contains": "/conversations?", "body": {"patients": [PATIENT], "count": 1}},
                     f"{CONVERSATIONS} reported an error: no `data` list in a JSON object with fields patients, count",
                     id="200-not-the-envelope"),
        pytest.param({"contains": "/conversations?", "body": [CONVERSATION, CONVERSATION]},
                     f"{CONVERSATIONS} reported an error: no `data` list in a JSON array of 2 items", id="200-array"),
        pytest.param({"contains": "/conversations?", "body": {"code": False, "description": "Invalid subdomain.",
                                                              "error": ["Not allowed."], "data": [CONVERSATION]}},
                     f"{CONVERSATIONS} reported an error: Invalid subdomain.; Not allowed.", id="200-code-false"),
        pytest.param({"contains": "/conversations?", "body": {"detail": "Invalid token."}},
                     f"{CONVERSATIONS} reported an error: Invalid token.", id="200-detail"),
        pytest.param({"contains": "/call_log/interactions", "status": 500, "times": 99,
                      "body": {"interactions": [CALLER]}},
                     "answered 500: a JSON object with fields interactions", id="500-data-body"),
        pytest.param({"contains": "/call_log/interactions", "status": 503, "times": 99,
                      "body": f"<html><body>{CALLER}</body></html>"},
                     "answered 503: a text/html body of", id="503-html-body"),
        pytest.param({"contains": "/call_log/interactions", "status": 400, "body": {"detail": "Bad start_date.",
                                                                                    "echo": CALLER}},
                     "answered 400 Bad Request: Bad start_date.", id="400-detail-and-data"),
    ],
)  # fmt: skip
def test_errors_quote_the_apis_own_words_and_never_a_body_of_data(sandbox, forced, said) -> None:
    server = sandbox(scale=20, customers=[101], planted=True,
                     conversations={"conversations_per_location": 5, "max_messages": 2, "planted": True})  # fmt: skip
    requests.post(f"{server.url}/_sandbox/force", json=forced, timeout=5)
    config = all_sources_config(server.url, customer_ids=[101], max_retries=2, conversations_location_ids=["3001"])
    config = {k: v for k, v in config.items() if not k.startswith("interactly")}
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logging.getLogger().addHandler(handler)
    try:
        with pytest.raises(FatalAPIError) as failed, contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):
            TapLiine(config=config).sync_all()
    finally:
        logging.getLogger().removeHandler(handler)

    assert said in str(failed.value)
    if forced.get("status", 200) >= 500:
        assert "Giving up after 2 tries" in str(failed.value) and "(try 1 of 2)" in log.getvalue()
    assert PLANTED not in str(failed.value) + log.getvalue()


# ----- settings: plain http only to this machine ----------------------------------------------


def test_plain_http_to_another_machine_is_warned_about_naming_the_setting_never_the_url(caplog) -> None:
    config = all_sources_config(
        "http://127.0.0.1:9",
        api_url="http://liine.internal.example/",
        conversations_api_url="http://proxy-user:Pr0xy-Secret@10.0.0.5:8080/nexhealth",
        interactly_api_url="http://localhost:8765",
    )
    with caplog.at_level(logging.WARNING):
        TapLiine(config=config)
    # The tap's own logger: a stream's logger may still be heard from a worker of an earlier test.
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "tap-liine"] == [
        f"Setting `{name}` is an http:// URL to {host}: credentials and patient data would cross the network "
        "unencrypted. Use https:// (http:// is meant for the local sandbox)."
        for name, host in (("api_url", "liine.internal.example"), ("conversations_api_url", "10.0.0.5"))
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        TapLiine(config=all_sources_config("http://localhost:8765", interactly_api_url="https://api.interactly.ai"))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "tap-liine"]


def test_secrets_and_outputs_are_ignored_by_git() -> None:
    root = Path(__file__).resolve().parent.parent
    paths = [".env", "liine-password.txt", "snowflake-passphrase.txt", "output/warehouse.duckdb",
             ".meltano/batches/tap-liine--interactions-1.jsonl.gz", ".meltano/run/elt/log.txt"]  # fmt: skip
    checked = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=root, capture_output=True, text=True,
                             check=False)  # fmt: skip
    assert checked.stdout.splitlines() == paths


def test_retried_faults_leave_no_planted_value_in_the_log(sandbox) -> None:
    # Truncated bodies (half a page of callers), HTML error pages and 5xx answers, each retried.
    server = sandbox(scale=600, customers=[101], planted=True, faults="truncated,500,503html", every=3)
    run = run_tap(liine_config(server.url, customer_ids=[101]))

    assert len(run.records("interactions")) == 600
    warnings = [line for line in run.log.splitlines() if "(try 1 of 10)" in line]
    assert any("unreadable body" in w for w in warnings) and any("text/html body" in w for w in warnings)
    assert PLANTED not in run.log


def test_a_root_elsewhere_than_this_machine_gets_the_same_files(sandbox, tmp_path) -> None:
    # Any fsspec root (s3://, gs://, ...): here fsspec's in-memory file system.
    import fsspec

    server = sandbox(scale=300, customers=[101])
    root = f"memory://{tmp_path.name}"
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": root},
        "batch_size": 100,
    }
    run = run_tap(liine_config(server.url, customer_ids=[101], batch_config=batch_config))

    urls = [url for m in run.messages if m["type"] == "BATCH" for url in m["manifest"]]
    assert [url.rsplit("-", 1)[1] for url in urls] == ["1.jsonl.gz", "2.jsonl.gz", "3.jsonl.gz"]
    memory = fsspec.filesystem("memory")
    assert sorted(memory.ls(f"/{tmp_path.name}", detail=False)) == sorted(url.removeprefix("memory:/") for url in urls)
    records = [json.loads(line) for url in urls for line in gzip.decompress(memory.cat(url)).splitlines()]
    assert records == run_tap(liine_config(server.url, customer_ids=[101])).records("interactions")
