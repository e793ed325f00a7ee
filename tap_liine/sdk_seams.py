"""Every place the tap relies on the Singer SDK's private surface, in one module.

Checked against singer-sdk 0.54.9 (`SDK_VERSION_CHECKED`, the exact version pyproject.toml
pins); tests/test_sdk_seams.py fails loudly when an SDK upgrade changes what is relied on
here. Everything else in the tap uses the SDK's public extension points. Four private hooks,
one private attribute, one private method, one private type and five private behaviours remain,
for reasons no public one serves:

- `Stream._tap`: the tap a stream belongs to (its shared resources, its sibling streams, its
  public `state_writer`). The SDK keeps it private and offers no accessor; `owner` is ours.

- `Stream._generate_record_messages(record)`: the lean record path. The SDK's version copies
  every record to drop deselected properties and conforms every field, per record; when
  nothing is deselected and conformance is off (the tap conforms a page at a time, see
  fidelity.py) the copy is wasted work: the largest cost left in a tap's record loop. It
  reads `Stream._stream_version` (set by the SDK for ACTIVATE_VERSION) as the SDK does.
- `Stream._increment_stream_state(record, *, context)`: bookmarks. The SDK's keeps an
  unsorted or partitioned stream's bookmark in "progress markers" that a failed run loses,
  logs that progress is not resumable, and may pass the run's start; the tap's bookmarks
  (bookmarks.py) are fed here instead and written when a partition is done.
- `Stream._sync_records(context, write_messages=False)`: the records for BATCH files, as
  the SDK's own `get_batches` takes them (the extension point it documents for custom
  batching gives no public way to them). Each goes through the RECORD path's deselection
  (nested too) and stream maps (`_generate_record_messages`, or its lean loop without the
  message objects): BATCH files hold what RECORD messages would; the SDK's batching keeps
  deselected properties and ignores the maps.
- `Stream._generate_batch_messages(encoding, manifest)`: the SDK announces every manifest
  once per stream map, under each map's name, removed streams included; each of the tap's
  files holds the records of one map, announced under that map's name only.

For `--test=schema` (tap.py), which writes the SCHEMA messages of the selected streams only
(the SDK's public `Tap.write_schemas` selects every stream first, and its `cb_test` never reads
`--catalog`):

- `Stream._write_schema_message()`: one stream's SCHEMA messages, under its stream maps.
- `ctx.params["config"]`: the SDK's parsed `--config` (its private `_ConfigInput`: `config`,
  `parse_env`), read as the SDK's own `Tap.cb_test` reads it.

Behaviours of the SDK's internals the tap assumes (no hook overridden):

- writer.py: `MsgSpecWriter.format_message` returns one module-level buffer that the SDK
  reuses for the next message, so the tap's writer copies each line out at once; and the
  SDK's `write_message` flushes after every message, which is why the tap's writer replaces it.
- conversations.py, `conversation_messages` (synced once per group of conversations): the
  SDK announces each sync in log lines starting with `SYNC_START_LINES` (`ChildSyncsQuiet`
  drops them); a `metrics.Counter` logs and resets its count in `__exit__` (`OpenCounter`
  keeps counting, logged once per location with `exit()`), a `metrics.Timer` logs in
  `__exit__` (`SilentTimer` does not).
- streams/base.py, `TapStream.log` (the public `Stream.log`, through which the SDK logs): a
  walk that ends on an empty page is logged as a line starting with `PAGINATION_STOPPED`
  (dropped: the run summary counts pages); `Stream.sync` logs `UNHANDLED_ERROR` at ERROR
  through `log` while any exception propagates: dropped when it is `--test` stopping each
  stream after its first record (an abort exception caused by `MaxRecordsLimitException`: the
  test succeeded), and when it is an error the tap ends the run with in one sentence of its
  own (a `FatalAPIError` or `RunStopped`, logged by `TapLiine._ending_plainly`).
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
from functools import cached_property

import singer_sdk.singerlib as singer
from singer_sdk import metrics
from singer_sdk.helpers.conform import TypeConformanceLevel

if t.TYPE_CHECKING:
    import click
    from singer_sdk import Stream
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams import RESTStream

    from tap_liine.tap import TapLiine

    # Type-checked as the stream it is mixed into, so `super()` and the SDK's attributes are typed.
    _StreamBase = RESTStream[t.Any]
else:
    _StreamBase = object

SDK_VERSION_CHECKED = "0.54.9"
SYNC_START_LINES = ("Beginning sync of", "Starting incremental sync of")
PAGINATION_STOPPED = "Pagination stopped after"
UNHANDLED_ERROR = "An unhandled error occurred while syncing '%s'"


class SdkSeams(_StreamBase):
    """Mixed into the stream base ahead of the SDK's RESTStream."""

    if t.TYPE_CHECKING:  # provided by the stream this is mixed into

        def bookmark(self, record: dict[str, t.Any], context: Context | None) -> None: ...

        batch_streams: dict[str, str]  # a BATCH file's URL: the stream name its records go out under

    @property
    def owner(self) -> TapLiine:
        """The tap this stream belongs to."""
        return t.cast("TapLiine", self._tap)

    @cached_property
    def _everything_selected(self) -> bool:
        return all(self.mask.values())

    @cached_property
    def _lean(self) -> bool:
        return self._everything_selected and self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE

    def _generate_record_messages(self, record: dict[str, t.Any]) -> t.Generator[singer.RecordMessage, None, None]:
        if not self._lean:
            yield from super()._generate_record_messages(record)
            return
        extracted = dt.datetime.now(dt.timezone.utc)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=extracted,
                )

    def records_for_batches(self, context: Context | None) -> t.Iterator[tuple[str, dict[str, t.Any]]]:
        """(stream name, record) as the RECORD messages would carry them, for BATCH files."""
        records = t.cast("t.Iterator[dict[str, t.Any]]", self._sync_records(context, write_messages=False))
        if self._lean:  # `_generate_record_messages` without the message objects
            return (
                (stream_map.stream_alias, mapped)
                for record in records
                for stream_map in self.stream_maps
                if (mapped := stream_map.transform(record)) is not None
            )
        return ((m.stream, m.record) for record in records for m in self._generate_record_messages(record))

    def _generate_batch_messages(self, encoding: t.Any, manifest: list[str]) -> t.Generator[t.Any, None, None]:
        stream = self.batch_streams.pop(manifest[0])
        yield from (m for m in super()._generate_batch_messages(encoding, manifest) if m.stream == stream)

    def _increment_stream_state(self, latest_record: dict[str, t.Any], *, context: Context | None = None) -> None:
        self.bookmark(latest_record, context)


class ChildSyncsQuiet(logging.Filter):
    """The SDK announces every sync of a child stream (one per group); one METRIC line per location is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(SYNC_START_LINES)


class OpenCounter(metrics.Counter):
    """Counts across every sync of a child stream; logged (`exit()`) per location, not per sync."""

    def __exit__(self, *exc: object) -> None:
        """A child sync ended; the count goes on."""


class SilentTimer(metrics.Timer):
    def __exit__(self, *exc: object) -> None:
        """No timing line per sync of a child stream."""


def cli_config(ctx: click.Context) -> tuple[dict[str, t.Any], bool]:
    """The settings `--config` gave (files merged) and whether it named `ENV`, as the SDK's `cb_test`
    reads them; none if `--config` was not given before `--test`."""
    given = ctx.params.get("config")
    return ({}, False) if given is None else (given.config, given.parse_env)


def write_schema_message(stream: Stream) -> None:
    """The stream's SCHEMA messages, one per stream map, as a run writes them."""
    stream._write_schema_message()
