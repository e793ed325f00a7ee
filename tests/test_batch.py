"""BATCH messages: every stream, a few files each, and STATE only after the files it covers."""

from __future__ import annotations

import collections
import gzip
import json
from pathlib import Path

from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config, liine_config, run_tap


def _lines(url: str) -> list[bytes]:
    with gzip.open(url.removeprefix("file://")) as batch:
        return batch.readlines()


def _batch_config(folder: Path) -> dict:
    return {"encoding": {"format": "jsonl", "compression": "gzip"}, "storage": {"root": f"file://{folder}"}}


def test_every_stream_goes_out_in_a_few_batch_files_with_every_record(sandbox, tmp_path) -> None:
    server = sandbox(scale=3000, conversations={"conversations_per_location": 700, "max_messages": 4},
                     interactly={"days": 40})  # fmt: skip
    config = all_sources_config(server.url, start_date="2025-06-01T00:00:00Z", batch_config=_batch_config(tmp_path))
    run = run_tap(config)
    plain = run_tap({k: v for k, v in config.items() if k != "batch_config"})

    batches = [m for m in run.messages if m["type"] == "BATCH"]
    files = collections.defaultdict(list)
    for message in batches:
        files[message["stream"]].extend(message["manifest"])
    assert set(files) == {"interactions", "conversations", "conversation_messages", "appointment_statistics",
                          "appointment_trends"}  # fmt: skip
    # Messages: a file per group of up to 500 conversations of a location, not one per conversation.
    per_location = collections.Counter(r["location_id"] for r in plain.records("conversations"))
    assert len(files["conversation_messages"]) == sum(-(-n // 500) for n in per_location.values()) >= 3
    assert all(len(paths) <= 4 for paths in files.values()), {s: len(p) for s, p in files.items()}
    for stream, paths in files.items():
        ids = [json.loads(line).get("id") for path in paths for line in _lines(path)]
        if stream.startswith("appointment"):
            assert len(ids) == len(plain.records(stream)), stream
        else:
            assert sorted(ids) == sorted(plain.ids(stream)), stream


def test_with_batch_messages_a_state_never_runs_ahead_of_the_files(sandbox, tmp_path) -> None:
    server = sandbox(scale=6000, customers=[101, 202])
    config = all_sources_config(server.url, customer_ids=[101, 202], window_days=20, start_date="2025-11-01T00:00:00Z",
                                batch_config={**_batch_config(tmp_path), "batch_size": 1000})  # fmt: skip
    config = {k: v for k, v in config.items() if not k.startswith(("conversations", "interactly"))}
    run = run_tap(config)

    written: set[int] = set()
    for message in run.messages:
        if message["type"] == "BATCH":
            for path in message["manifest"]:
                written.update(json.loads(line)["id"] for line in _lines(path))
        elif message["type"] == "STATE":
            for partition in message["value"].get("bookmarks", {}).get("interactions", {}).get("partitions", []):
                done = partition.get("backfill", {}).get("done_through")
                customer = partition["context"]["customer_id"]
                covered = [i for i in run_ids(server.url, customer, done)] if done else []
                assert set(covered) <= written, (customer, done)
    assert len(written) == 6000


def run_ids(url: str, customer: int, through: str) -> list[int]:
    import requests

    rows = requests.get(f"{url}/_sandbox/liine/truth", timeout=10).json()
    return [r["id"] for r in rows if r["customer_id"] == customer and r["start_time"][:10] <= through]


def _catalog_without_property(config: dict, stream: str, prop: str) -> dict:
    catalog = TapLiine(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if entry["tap_stream_id"] == stream and metadata["breadcrumb"] == ["properties", prop]:
                metadata["metadata"]["selected"] = False
    return catalog


def test_uncompressed_batch_files_are_plain_json_lines_equal_to_the_records(sandbox, tmp_path) -> None:
    server = sandbox(scale=2500, customers=[101, 202])
    config = {**liine_config(server.url, customer_ids=[101, 202]),
              "batch_config": {"encoding": {"format": "jsonl", "compression": "none"},
                               "storage": {"root": f"file://{tmp_path}"}, "batch_size": 1000}}  # fmt: skip
    run = run_tap(config)
    plain = run_tap({k: v for k, v in config.items() if k != "batch_config"})

    paths = [p.removeprefix("file://") for m in run.messages if m["type"] == "BATCH" for p in m["manifest"]]
    assert [Path(p).suffix for p in paths] == [".jsonl"] * 3  # 2,500 records, 1,000 a file
    records = [json.loads(line) for path in paths for line in Path(path).read_bytes().splitlines()]
    assert sorted(records, key=lambda r: r["id"]) == sorted(plain.records("interactions"), key=lambda r: r["id"])


def test_deselected_properties_stay_out_of_batch_files(sandbox, tmp_path) -> None:
    server = sandbox(scale=300, customers=[101])
    config = {**liine_config(server.url, customer_ids=[101]), "batch_config": _batch_config(tmp_path)}
    run = run_tap(config, catalog=_catalog_without_property(config, "interactions", "phone_number"))

    paths = [p for m in run.messages if m["type"] == "BATCH" for p in m["manifest"]]
    records = [json.loads(line) for path in paths for line in _lines(path)]
    assert len(records) == 300 and all("phone_number" not in r and "id" in r for r in records)
