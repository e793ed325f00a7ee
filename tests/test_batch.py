"""BATCH messages: every stream, a few files each, and STATE only after the files it covers."""

from __future__ import annotations

import collections
import gzip
import json
from pathlib import Path

from tests.helpers import all_sources_config, run_tap


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
