"""BATCH files in JSON Lines: encoded with msgspec, compressed as configured, gzip at a fast level.

The SDK's own JSON Lines batcher (singer-sdk 0.54) gzips every file whatever
`batch_config.encoding.compression` says (a target told "none" then fails to read it),
at gzip's slowest level, and encodes with the standard library: it nearly tripled the tap's
CPU time. This one writes what the BATCH message announces: plain `.jsonl` files for
"none", `.jsonl.gz` at level 1 for "gzip" (a third of the time of level 9 for files a
few per cent larger, read once by the target and then deleted or kept as the user likes).
Records are encoded as the RECORD messages are (singer_sdk.contrib.msgspec's encoder).

Parquet (`ParquetBatcher`, needs pyarrow: `pip install 'tap-liine[parquet]'`) reads each
file's records before opening it, as the SDK's does not (see `hold_chunks`), and names the
field when a column cannot be typed. Its columns are typed from the records of each file, so
a nested object comes back with every key any record of the file had (absent keys as null):
JSON Lines is the exact format, Parquet a faster one to read (README, Performance).
"""

from __future__ import annotations

import gzip
import itertools
import typing as t
from uuid import uuid4

from singer_sdk.batch import BaseBatcher
from singer_sdk.contrib.msgspec import encoder

from tap_liine.errors import RunStopped

GZIP_LEVEL = 1
LINES_PER_WRITE = 1000  # encode_lines over a block: one call, one buffer, per thousand records


def chunks(records: t.Iterator[dict], size: int) -> t.Iterator[t.Iterator[dict]]:
    """Consecutive runs of up to `size` records, each read as it is written: never held in a list
    (the SDK's `lazy_chunked_generator` lists every chunk: a batch of records in memory)."""
    for first in records:
        yield itertools.chain((first,), itertools.islice(records, size - 1))


class _Files(BaseBatcher):
    """What both batchers share: the compression asked, and how their files are named."""

    @property
    def gzipped(self) -> bool:
        return self.batch_config.encoding.compression == "gzip"

    def file_names(self, extension: str) -> t.Iterator[str]:
        """`<prefix><tap>--<stream>-<uuid>-<n>.<extension>[.gz]`, n = 1, 2, ...: the files of one sync."""
        stem = f"{self.batch_config.storage.prefix or ''}{self.tap_name}--{self.stream_name}-{uuid4()}"
        suffix = ".gz" if self.gzipped else ""
        return (f"{stem}-{number}.{extension}{suffix}" for number in itertools.count(1))


class JsonLinesBatcher(_Files):
    """One file per `batch_size` records; one manifest (a list of one file URL) per file.

    `hold_chunks`: read a file's records before opening it. For a parent stream, whose
    records sync child streams as they are read: the children write files of their own,
    and the SDK's storage commits each file with a filesystem-wide transaction, which a
    child's would end while the parent's file is open (that file would never appear).
    """

    hold_chunks = False

    def get_batches(self, records: t.Iterator[dict]) -> t.Iterator[list[str]]:
        storage, names = self.batch_config.storage, self.file_names("jsonl")
        for run in chunks(iter(records), self.batch_config.batch_size):
            filename = next(names)
            chunk = iter(list(run)) if self.hold_chunks else run
            with storage.open(filename, "wb") as file:
                sink = gzip.GzipFile(fileobj=file, mode="wb", compresslevel=GZIP_LEVEL) if self.gzipped else file
                with sink:
                    for block in chunks(chunk, LINES_PER_WRITE):
                        sink.write(encoder.encode_lines(list(block)))
            yield [storage.get_url(filename)]


class ParquetBatcher(_Files):
    """One Parquet file per `batch_size` records (gzip-compressed when so configured)."""

    def get_batches(self, records: t.Iterator[dict]) -> t.Iterator[list[str]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        storage, names = self.batch_config.storage, self.file_names("parquet")
        for run in chunks(iter(records), self.batch_config.batch_size):
            filename = next(names)
            rows = list(run)  # before the file opens: a parent's records write their children's files
            try:
                table = pa.Table.from_pylist(rows)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                # pyarrow's own words quote the value: the field is named instead.
                msg = (
                    f"Stream `{self.stream_name}` cannot be written as Parquet: field `{_untypable(pa, rows)}` holds "
                    "values that no Parquet column holds together (values of different JSON types, or integers "
                    "beyond 64 bits). Set `batch_config.encoding.format` to `jsonl`, which keeps every value as sent."
                )
                raise RunStopped(msg) from None
            with storage.open(filename, "wb") as file:
                pq.write_table(table, file, compression="gzip" if self.gzipped else "snappy")
            yield [storage.get_url(filename)]


def _untypable(pa: t.Any, rows: list[dict]) -> str:
    """The first field whose values pyarrow cannot put in one column."""
    for name in dict.fromkeys(key for row in rows for key in row):
        try:
            pa.array([row.get(name) for row in rows])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return name
    return "?"
