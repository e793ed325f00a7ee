"""BATCH files as Parquet: every stream (a parent's children too), the records as sent where
Parquet can hold them, a clear error where it cannot, and a clear error without pyarrow."""

from __future__ import annotations

import collections
import importlib.util
import json
import logging
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tap_liine.batch_files import BatchFolder
from tap_liine.batches import write_batches
from tap_liine.errors import RunStopped
from tap_liine.settings import CONFIG_SCHEMA, config_errors
from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config, run_tap


def _parquet(folder: Path, compression: str = "none", **extra: object) -> dict:
    return {"encoding": {"format": "parquet", "compression": compression},
            "storage": {"root": f"file://{folder}"}, **extra}  # fmt: skip


def _write(folder: Path, records: list[dict]) -> list[str]:
    """The files a stream of the tap would write, with the batch config the SDK makes of the settings."""
    tap = TapLiine(config=all_sources_config("http://127.0.0.1:9", batch_config=_parquet(folder)), setup_mapper=False)
    stream = tap.streams["interactions"]
    config = stream.get_batch_config(stream.config)
    assert config is not None
    batch_folder = BatchFolder(config.storage, "tap-liine", logging.getLogger("test"))
    batch_folder.prepare()
    return [url for _, url in write_batches((("interactions", r) for r in records), batch_folder, config, "tap-liine")]


def _rows(url: str) -> list[dict]:
    return pq.read_table(url.removeprefix("file://")).to_pylist()


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_every_stream_goes_out_in_parquet_files_with_every_record(sandbox, tmp_path, compression) -> None:
    server = sandbox(scale=1500, conversations={"conversations_per_location": 300, "max_messages": 3},
                     interactly={"days": 20})  # fmt: skip
    config = all_sources_config(server.url, start_date="2025-06-01T00:00:00Z",
                                batch_config=_parquet(tmp_path, compression, batch_size=1000))  # fmt: skip
    run = run_tap(config)
    plain = run_tap({k: v for k, v in config.items() if k != "batch_config"})

    files = collections.defaultdict(list)
    for message in (m for m in run.messages if m["type"] == "BATCH"):
        assert message["encoding"] == {"format": "parquet", "compression": compression}
        files[message["stream"]].extend(message["manifest"])
    assert set(files) == {"interactions", "conversations", "conversation_messages", "appointment_statistics",
                          "appointment_trends"}  # fmt: skip
    for stream, paths in files.items():
        assert all(Path(p).name.endswith(".parquet" + (".gz" if compression == "gzip" else "")) for p in paths)
        rows = [row for path in paths for row in _rows(path)]
        if stream.startswith("appointment"):
            assert len(rows) == len(plain.records(stream)) > 0, stream
        else:  # flat streams and their top-level values come back exactly as the RECORD messages carry them
            assert sorted(r["id"] for r in rows) == sorted(plain.ids(stream)), stream
    interactions = {r["id"]: r for path in files["interactions"] for r in _rows(path)}
    exact = [json.loads(line, parse_float=Decimal) for line in plain.out.splitlines()]  # decimals as Decimal columns
    for record in (m["record"] for m in exact if m["type"] == "RECORD" and m["stream"] == "interactions"):
        assert {k: v for k, v in interactions[record["id"]].items() if k in record} == record


@pytest.mark.parametrize("planted", ["seven-planted", 2**64 + 7])
def test_a_field_parquet_cannot_type_stops_the_run_with_one_sentence_naming_it(tmp_path, planted) -> None:
    records = [{"id": 1, "value": 7}, {"id": 2, "value": planted}]
    with pytest.raises(
        RunStopped, match=r"Stream `interactions` cannot be written as Parquet: field `value` .*`jsonl`"
    ) as error:
        _write(tmp_path, records)
    assert str(planted) not in str(error.value)
    assert list(tmp_path.iterdir()) == []  # no file begun


def test_nested_objects_come_back_with_the_keys_of_their_file(tmp_path) -> None:
    # Why JSON Lines stays the exact format (README): Parquet types a file's columns from its records.
    records = [{"id": 1, "source": {"utm": "a"}}, {"id": 2, "source": {"channel": "b"}}]
    [url] = _write(tmp_path, records)
    assert _rows(url) == [{"id": 1, "source": {"utm": "a", "channel": None}},
                                  {"id": 2, "source": {"utm": None, "channel": "b"}}]  # fmt: skip


def test_parquet_without_pyarrow_is_refused_with_the_settings(tmp_path, monkeypatch) -> None:
    config = all_sources_config("http://127.0.0.1:9", batch_config=_parquet(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    errors = config_errors(config, CONFIG_SCHEMA)
    assert errors == [
        "Setting `batch_config.encoding.format` is `parquet`, which needs pyarrow: install the tap with "
        "`pip install 'tap-liine[parquet]'` (in Meltano, a pip_url ending in `[parquet]`), or use `jsonl`."
    ]
