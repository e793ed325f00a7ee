"""RECORD lines leave the tap in large writes; every other message at once, after the records before it.

An unbuffered stdout (PYTHONUNBUFFERED=1, `python -u`) would otherwise take one system call
per record: the SDK's msgspec writer flushes after every message.
"""

from __future__ import annotations

import contextlib
import io
import json
import typing as t

from tap_liine.tap import TapLiine
from tap_liine.writer import BufferedRecords
from tests.helpers import expected_interactions, liine_config


class RawStdout(io.RawIOBase):
    """An unbuffered stdout that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: t.Any) -> int:
        self.writes.append(bytes(data))
        return len(data)


def test_records_are_written_in_large_chunks_and_other_messages_at_once(sandbox) -> None:
    server = sandbox(scale=3000)
    raw = RawStdout()
    stdout = io.TextIOWrapper(t.cast("t.BinaryIO", raw), write_through=True)
    with contextlib.redirect_stdout(stdout):
        TapLiine(config=liine_config(server.url, start_date="2026-01-01T00:00:00Z"), validate_config=True).sync_all()

    messages = [json.loads(line) for line in b"".join(raw.writes).splitlines()]
    records = [m for m in messages if m["type"] == "RECORD"]
    expected = expected_interactions(server.url, [101, 202, 303], "2026-01-01")
    assert len(expected) > 1000
    assert sorted(r["record"]["id"] for r in records) == sorted(expected)
    assert len(raw.writes) < len(records) / 20  # was one write per message
    for chunk in raw.writes:
        lines = [json.loads(line) for line in chunk.splitlines()]
        assert chunk.endswith(b"\n")
        # Only a chunk's last line may be anything but a RECORD: the others are flushed at once.
        assert all(m["type"] == "RECORD" for m in lines[:-1])
        assert lines[-1]["type"] != "RECORD" or len(chunk) >= BufferedRecords.FLUSH_BYTES
    assert messages[-1]["type"] == "STATE"
