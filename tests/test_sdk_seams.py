"""The private Singer SDK surface tap_liine/sdk_seams.py relies on is still there and still used.

An SDK upgrade that renames, re-signs or stops calling one of these hooks would otherwise
fail quietly: records emitted by the SDK's slower path, bookmarks kept in its progress
markers, BATCH files without records. These tests say which hook moved.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import logging
import typing as t

import pytest
from singer_sdk import Stream, metrics
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage

from tap_liine.sdk_seams import (
    PAGINATION_STOPPED,
    SDK_VERSION_CHECKED,
    SYNC_START_LINES,
    UNHANDLED_ERROR,
    OpenCounter,
    SdkSeams,
    SilentTimer,
)
from tap_liine.tap import TapLiine
from tests.helpers import liine_config, run_tap

# (hook, its parameters as the seams call it)
HOOKS = {
    "_generate_record_messages": ["self", "record"],
    "_generate_batch_messages": ["self", "encoding", "manifest"],
    "_increment_stream_state": ["self", "latest_record", "context"],
    "_sync_records": ["self", "context", "write_messages"],
    "_write_schema_message": ["self"],
}


def test_the_installed_and_the_required_sdk_are_the_version_the_seams_were_checked_against() -> None:
    installed = importlib.metadata.version("singer-sdk")
    required = [r for r in importlib.metadata.requires("tap-liine") or [] if r.startswith("singer-sdk")]
    assert installed == SDK_VERSION_CHECKED and required == [f"singer-sdk[msgspec]=={SDK_VERSION_CHECKED}"], (
        f"singer-sdk {installed} is installed and {required} required; tap_liine/sdk_seams.py was checked against "
        f"{SDK_VERSION_CHECKED}. Re-read each hook and behaviour it lists in the new SDK, then update "
        "SDK_VERSION_CHECKED and the pin in pyproject.toml together."
    )


def test_the_msgspec_writer_reuses_its_buffer_and_flushes_every_message() -> None:
    # writer.py copies each line out of the buffer at once, and replaces write_message.
    writer = MsgSpecWriter()
    first = writer.format_message(RecordMessage(stream="s", record={"id": 1}))
    line = bytes(first)
    second = writer.format_message(RecordMessage(stream="s", record={"id": 22}))
    assert first is second and line == b'{"type":"RECORD","stream":"s","record":{"id":1}}\n'
    assert "flush()" in inspect.getsource(MsgSpecWriter.write_message)


def test_the_sdk_still_announces_each_sync_with_the_lines_the_child_stream_drops() -> None:
    from singer_sdk.streams import _state, core

    sources = inspect.getsource(core) + inspect.getsource(_state)
    assert all(f'"{start}' in sources for start in SYNC_START_LINES), SYNC_START_LINES


def test_the_lines_the_streams_drop_are_logged_through_stream_log() -> None:
    from singer_sdk.streams import core, rest

    paging = inspect.getsource(rest.RESTStream.request_records)
    assert f'self.log(\n                        "{PAGINATION_STOPPED}' in paging
    check = inspect.getsource(core.Stream._check_max_record_limit)
    assert "self._abort_sync(" in check and "abort_reason=MaxRecordsLimitException(" in check
    assert "raise AbortedSyncPausedException from abort_reason" in inspect.getsource(core.Stream._abort_sync)
    sync = inspect.getsource(core.Stream.sync)
    assert f'except Exception:\n            self.log(\n                "{UNHANDLED_ERROR}",' in sync
    assert "level=logging.ERROR," in sync


def test_counters_and_timers_log_on_exit_and_the_open_ones_do_not(caplog) -> None:
    caplog.set_level(logging.INFO, logger=metrics.METRICS_LOGGER_NAME)
    counter, open_counter = (kind(metrics.Metric.RECORD_COUNT, {}) for kind in (metrics.Counter, OpenCounter))
    for _ in range(2):  # two syncs of the child stream
        for meter in (
            counter,
            open_counter,
            metrics.Timer(metrics.Metric.SYNC_DURATION),
            SilentTimer(metrics.Metric.SYNC_DURATION),
        ):
            with meter:
                if isinstance(meter, metrics.Counter):
                    meter.increment(3)
    logged = [json.loads(r.getMessage().removeprefix("METRIC: ")) for r in caplog.records]
    assert [(p["type"], p["value"] if p["type"] == "counter" else "") for p in logged] == [
        ("counter", 3), ("timer", ""), ("counter", 3), ("timer", "")
    ]  # fmt: skip
    caplog.clear()
    open_counter.exit()  # once per location
    assert [json.loads(r.getMessage().removeprefix("METRIC: "))["value"] for r in caplog.records] == [6]


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_each_private_hook_keeps_its_signature(hook: str) -> None:
    assert hasattr(Stream, hook), f"singer-sdk no longer has Stream.{hook}"
    assert list(inspect.signature(getattr(Stream, hook)).parameters) == HOOKS[hook]


def test_the_sdk_calls_the_overridden_hooks_once_per_record(sandbox, monkeypatch) -> None:
    calls: dict[str, int] = {"_generate_record_messages": 0, "_increment_stream_state": 0}

    def counted(name: str) -> t.Callable[..., t.Any]:
        original = getattr(SdkSeams, name)

        def wrapper(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
            calls[name] += 1
            return original(self, *args, **kwargs)

        return wrapper

    for name in calls:
        monkeypatch.setattr(SdkSeams, name, counted(name))
    server = sandbox(scale=400)
    run = run_tap(liine_config(server.url, page_size=100, start_date="2026-10-01T00:00:00Z"))

    records = len(run.records("interactions"))
    assert records > 0
    assert calls == {"_generate_record_messages": records, "_increment_stream_state": records}
    # The tap's bookmarks, not the SDK's progress markers, are what the state holds.
    state = [m["value"] for m in run.messages if m["type"] == "STATE"][-1]
    assert "progress_markers" not in str(state)


def test_with_batch_files_the_sdk_announces_each_file_through_the_overridden_hook(sandbox, tmp_path, monkeypatch):
    announced: list[list[str]] = []
    original = SdkSeams._generate_batch_messages

    def counted(self: t.Any, encoding: t.Any, manifest: list[str]) -> t.Any:
        announced.append(manifest)
        return original(self, encoding, manifest)

    monkeypatch.setattr(SdkSeams, "_generate_batch_messages", counted)
    server = sandbox(scale=400)
    batch_config = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": f"file://{tmp_path}"},
                    "batch_size": 100}  # fmt: skip
    run = run_tap(liine_config(server.url, start_date="2024-01-01T00:00:00Z", batch_config=batch_config))

    batches = [m["manifest"] for m in run.messages if m["type"] == "BATCH"]
    assert announced == batches and len(batches) == 4  # 400 records, 100 a file, each file announced once


def test_each_stream_reaches_its_tap_through_the_private_attribute() -> None:
    # `owner` reads the SDK's private `Stream._tap`: the streams' shared resources, their
    # siblings and the tap's state writer all come through it.
    tap = TapLiine(config=liine_config("http://127.0.0.1:9"), setup_mapper=False)
    for name, stream in tap.streams.items():
        assert isinstance(stream, SdkSeams), name
        assert stream.owner is tap, name
        assert stream.owner.streams[name] is stream


def test_the_sdks_test_option_reads_the_parsed_config_from_the_click_context() -> None:
    # `--test=schema` (tap.py) reads `--config` as the SDK's own `cb_test` does: `cli_config`.
    from singer_sdk import Tap

    source = inspect.getsource(Tap.cb_test)
    assert 'config: _ConfigInput = ctx.params.get("config", _ConfigInput())' in source
    assert "config=config.config," in source and "parse_env_config=config.parse_env," in source
    assert "tap.write_schemas()" in source and "stream.selected = True" in inspect.getsource(Tap.write_schemas)
