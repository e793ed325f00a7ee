"""The run summary: what each stream and partition read, and what went wrong, in one block at the end.

Per stream and partition (customer, location, integration and type): records, pages,
retries and re-logins (a 401 on a token the tap had); counts of zero are left out. Then the sources
whose credentials the start's check accepted (not a stream: it reads no records), what the tap noticed about how
the APIs answer (observations.py) and every warning of the run, each distinct message once
with how often it came. Log lines at INFO; no record values (the messages counted here
carry none, see the rules of observations.py and http.py).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import re
import threading
import typing as t

MAX_SHOWN = 20  # distinct warnings listed; more are counted
MAX_WIDTH = 240  # a listed message is clipped to this many characters
# Messages alike but for their numbers and their parenthesised details (partition, try) are one warning.
_DETAILS = re.compile(r"\([^()]*\)|\d+(?:\.\d+)?")


@dataclasses.dataclass
class Tally:
    records: int = 0
    pages: int = 0
    retries: int = 0
    relogins: int = 0

    def words(self) -> str:
        """E.g. "1,476 records, 21 pages, 2 retries": counts that are zero are left out, records aside."""
        counts = (
            (self.pages, "page", "pages"),
            (self.retries, "retry", "retries"),
            (self.relogins, "re-login", "re-logins"),
        )
        parts = [_counted(self.records, "record", "records")]
        parts += [_counted(n, one, many) for n, one, many in counts if n]
        return ", ".join(parts)


class WarningsSeen(logging.Handler):
    """Counts the WARNING and ERROR lines of the tap's loggers by kind, keeping the first of each."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.counts: collections.Counter[str] = collections.Counter()
        self.first: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        kind = _DETAILS.sub("#", message)
        self.counts[kind] += 1
        self.first.setdefault(kind, message)


class RunSummary:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._tallies: dict[str, dict[str, Tally]] = {}
        self.warnings = WarningsSeen()
        logger.addHandler(self.warnings)

    def add(self, stream: str, partition: str, what: str, count: int = 1) -> None:
        """Count `count` of `what` (records, pages, retries, relogins) for a stream's partition."""
        with self._lock:
            tally = self._tallies.setdefault(stream, {}).setdefault(partition, Tally())
            setattr(tally, what, getattr(tally, what) + count)

    def tally(self, stream: str, partition: str) -> Tally:
        with self._lock:
            return dataclasses.replace(self._tallies.get(stream, {}).get(partition, Tally()))

    def lines(self, noticed: t.Sequence[str], *, failed: bool, accepted: t.Sequence[str] = ()) -> list[str]:
        lines = ["Run summary" + (" (the run failed)" if failed else "") + ":"]
        with self._lock:
            tallies = {stream: dict(parts) for stream, parts in self._tallies.items()}
        if not tallies:
            lines.append("  no stream read anything")
        width = max((len(stream) for stream in tallies), default=0)
        for stream, parts in tallies.items():
            total = Tally()
            for tally in parts.values():
                for field in dataclasses.fields(Tally):
                    setattr(total, field.name, getattr(total, field.name) + getattr(tally, field.name))
            if len(parts) == 1:
                lines.append(f"  {stream:<{width}}  {next(iter(parts))}: {total.words()}")
                continue
            lines.append(f"  {stream:<{width}}  {total.words()}")
            lines.extend(f"  {'':<{width}}    {partition}: {tally.words()}" for partition, tally in parts.items())
        if accepted:
            lines.append(f"Credentials accepted by {', '.join(accepted)}.")
        if noticed:
            lines.append("Noticed about the APIs:")
            lines.extend(f"  - {_clip(line)}" for line in noticed)
        counts = self.warnings.counts
        if counts:
            said = sum(counts.values())
            lines.append(f"Warnings ({said:,} line{'s' * (said != 1)}, {len(counts)} distinct):")
            for template, times in counts.most_common(MAX_SHOWN):
                lines.append(f"  - {f'{times} x ' if times > 1 else ''}{_clip(self.warnings.first[template])}")
            if len(counts) > MAX_SHOWN:
                lines.append(f"  - and {len(counts) - MAX_SHOWN} more distinct warnings, in the log above")
        return lines

    def close(self) -> None:
        """Stop counting warnings."""
        self._logger.removeHandler(self.warnings)

    def log(self, noticed: t.Sequence[str], *, failed: bool, accepted: t.Sequence[str] = ()) -> None:
        """Log the summary, once, and stop counting warnings."""
        self.close()
        for line in self.lines(noticed, failed=failed, accepted=accepted):
            self._logger.info("%s", line)


def _counted(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 1] + "…"
