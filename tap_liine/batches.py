"""BATCH files' contents: JSON Lines (msgspec, gzip at a fast level, or plain) and Parquet.

Records arrive as the RECORD messages would carry them, each with the stream name (alias)
its stream map gives it (`write_batches`); each alias gets files of its own, one per
`batch_size` records, written through batch_files.py (inside the root, 0600, renamed
when complete, removed when the run fails).

The SDK's own JSON Lines batcher (singer-sdk 0.54) gzips every file whatever
`batch_config.encoding.compression` says (a target told "none" then fails to read it),
at gzip's slowest level, and encodes with the standard library: it nearly tripled the tap's
CPU time. This one writes what the BATCH message announces: plain `.jsonl` files for
"none", `.jsonl.gz` at level 1 for "gzip" (a third of the time of level 9 for files a
few per cent larger, read once by the target and then deleted or kept as the user likes).
Records are encoded as the RECORD messages are (singer_sdk.contrib.msgspec's encoder).

Parquet (needs pyarrow: `pip install 'tap-liine[parquet]'`) types its columns from the
records of each file, so a nested object comes back with every key any record of the file
had (absent keys as null): JSON Lines is the exact format, Parquet a faster one to read
(README, Performance).
"""

from __future__ import annotations

import contextlib
import gzip
import typing as t
from uuid import uuid4

from singer_sdk.contrib.msgspec import encoder

from tap_liine.errors import RunStopped

if t.TYPE_CHECKING:
    from singer_sdk.batch import BatchConfig

    from tap_liine.batch_files import BatchFolder, PartFile

GZIP_LEVEL = 1
LINES_PER_WRITE = 1000  # encode_lines over a block: one call, one buffer, per thousand records


class BatchWriter:
    """The files of one stream alias: records added one at a time, a file per `batch_size`."""

    suffix = ""

    def __init__(self, folder: BatchFolder, alias: str, config: BatchConfig, tap_name: str) -> None:
        self.folder, self.alias, self.size = folder, alias, config.batch_size
        self.stem = f"{config.storage.prefix or ''}{tap_name}--{alias}-{uuid4()}"
        self.gzipped = config.encoding.compression == "gzip"
        self.files = 0
        self.count = 0  # records in the current file
        self.part: PartFile | None = None

    def add(self, record: dict[str, t.Any]) -> str | None:
        """The URL of the file this record completed, if it did."""
        self.take(record)
        self.count += 1
        return self.finish() if self.count >= self.size else None

    def finish(self) -> str | None:
        """Complete the current file; its URL, or None when it has no records."""
        if not self.count:
            return None
        self.write_out()
        assert self.part is not None
        url = self.part.commit()
        self.part, self.count = None, 0
        self.files += 1
        return url

    def discard(self) -> None:
        """The run failed: remove the unfinished file."""
        if self.part is not None:
            self.part.discard()
            self.part = None

    def open_part(self) -> PartFile:
        name = f"{self.stem}-{self.files + 1}{self.suffix}" + (".gz" if self.gzipped else "")
        self.part = self.folder.open(name)
        return self.part

    # Hooks for the formats:

    def take(self, record: dict[str, t.Any]) -> None:
        raise NotImplementedError

    def write_out(self) -> None:
        """The current file's last records, before it is closed."""
        raise NotImplementedError


class JsonLinesWriter(BatchWriter):
    """Written as records come, a thousand lines at a time."""

    suffix = ".jsonl"

    def __init__(self, *args: t.Any) -> None:
        super().__init__(*args)
        self.block: list[dict[str, t.Any]] = []
        self.sink: t.BinaryIO | gzip.GzipFile | None = None

    def take(self, record: dict[str, t.Any]) -> None:
        self.block.append(record)
        if len(self.block) >= LINES_PER_WRITE:
            self._write_block()

    def write_out(self) -> None:
        self._write_block()
        assert self.sink is not None
        self.sink.close()  # the gzip trailer; the file itself is closed by `commit`
        self.sink = None

    def _write_block(self) -> None:
        if not self.block:
            return
        if self.sink is None:
            file = self.open_part().file
            self.sink = gzip.GzipFile(fileobj=file, mode="wb", compresslevel=GZIP_LEVEL) if self.gzipped else file
        self.sink.write(encoder.encode_lines(self.block))
        self.block = []

    def discard(self) -> None:
        if isinstance(self.sink, gzip.GzipFile):
            with contextlib.suppress(OSError, ValueError):
                self.sink.close()  # before its file is closed and removed
        self.block, self.sink = [], None
        super().discard()


class ParquetWriter(BatchWriter):
    """A file's records read, typed as one table, then written (gzip-compressed when so configured)."""

    suffix = ".parquet"

    def __init__(self, *args: t.Any) -> None:
        super().__init__(*args)
        self.rows: list[dict[str, t.Any]] = []

    def take(self, record: dict[str, t.Any]) -> None:
        self.rows.append(record)

    def write_out(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows, self.rows = self.rows, []
        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            # pyarrow's own words quote the value: the field is named instead.
            msg = (
                f"Stream `{self.alias}` cannot be written as Parquet: field `{_untypable(pa, rows)}` holds "
                "values that no Parquet column holds together (values of different JSON types, or integers "
                "beyond 64 bits). Set `batch_config.encoding.format` to `jsonl`, which keeps every value as sent."
            )
            raise RunStopped(msg) from None
        pq.write_table(table, self.open_part().file, compression="gzip" if self.gzipped else "snappy")

    def discard(self) -> None:
        self.rows = []
        super().discard()


def _untypable(pa: t.Any, rows: list[dict[str, t.Any]]) -> str:
    """The first field whose values pyarrow cannot put in one column."""
    for name in dict.fromkeys(key for row in rows for key in row):
        try:
            pa.array([row.get(name) for row in rows])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return name
    return "?"


def write_batches(
    records: t.Iterable[tuple[str, dict[str, t.Any]]], folder: BatchFolder, config: BatchConfig, tap_name: str
) -> t.Iterator[tuple[str, str]]:
    """(alias, URL) of each file completed, as (alias, record) pairs come; every file of a
    run that fails is removed (those already announced excepted)."""
    kind = ParquetWriter if config.encoding.format == "parquet" else JsonLinesWriter
    writers: dict[str, BatchWriter] = {}
    try:
        for alias, record in records:
            writer = writers.get(alias)
            if writer is None:
                writer = writers[alias] = kind(folder, alias, config, tap_name)
            url = writer.add(record)
            if url is not None:
                yield alias, url
        for alias, writer in writers.items():
            url = writer.finish()
            if url is not None:
                yield alias, url
    finally:
        for writer in writers.values():
            writer.discard()
