"""Bookmarks and backfills: what each partition's state says when it is done, and never more.

The SDK's own bookkeeping keeps unsorted streams' bookmarks as "progress markers" that a
killed or failed run loses, logs that progress is not resumable, and lets a bookmark pass
the moment the run began. The tap keeps its own instead (`Bookmarks`, fed each emitted
record through `sdk_seams.SdkSeams`), and writes a partition's bookmark once, when the
partition is done:

- the newest replication value among the records emitted for it in this run, but never
  later than the moment the run (or the backfill, if it spanned runs) began, so that a
  record changed while the walk had already passed it is read by the next run;
- when no record was emitted: the partition's previous bookmark if it had one, else that
  moment (an empty customer does not walk its whole backfill again);
- records without a readable replication value are emitted and ignored here;
- when a walk of the partition ended without proof that it read everything (it warned),
  nothing moves: the previous bookmark (or none) and the backfill's progress up to its
  first window not read to proof stay, so the next run reads that range again.

`Backfill` is the `backfill` entry of a partition's state while a first run walks its
windows: when it began and how far it got, so a killed backfill resumes after the last
window it finished (interactions first walk the finished windows again for what was
updated since it began: records created or changed there after they were read).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_liine.instants import read_datetime
from tap_liine.windows import Window

BACKFILL = "backfill"
REPLICATION_KEY = "replication_key"
REPLICATION_VALUE = "replication_key_value"


def partition_words(context: t.Mapping[str, t.Any]) -> str:
    """A partition as messages name it: e.g. "customer 101", "integration 5eb7..., appointment_type all"."""
    return ", ".join(f"{key.removesuffix('_id')} {value}" for key, value in context.items())


class Newest:
    """The newest of many ISO-8601 values, cheaply: strings of one shape compare as strings."""

    def __init__(self) -> None:
        self._by_shape: dict[tuple[int, str], str] = {}

    def see(self, value: t.Any) -> None:
        if not isinstance(value, str) or not value:
            return
        shape = (len(value), value[-1])
        current = self._by_shape.get(shape)
        if current is None or value > current:
            self._by_shape[shape] = value

    def value(self) -> tuple[str, dt.datetime] | None:
        """The newest value as given, and as a moment; None when none was readable."""
        moments = [(text, moment) for text in self._by_shape.values() if (moment := read_datetime(text))]
        return max(moments, key=lambda pair: pair[1], default=None)


class Bookmarks:
    """The newest replication value emitted per partition in this run, and how a partition finishes."""

    def __init__(self, replication_key: str, run_started: dt.datetime) -> None:
        self._key = replication_key
        self._run_started = run_started
        self._newest: dict[tuple[t.Any, ...], Newest] = {}

    def see(self, partition: tuple[t.Any, ...], record: t.Mapping[str, t.Any]) -> None:
        newest = self._newest.get(partition)
        if newest is None:
            newest = self._newest[partition] = Newest()
        newest.see(record.get(self._key))

    def finish(self, partition: tuple[t.Any, ...], state: dict[str, t.Any], *, complete: bool = True) -> None:
        """Write the partition's bookmark into its state (see the module's docstring)."""
        if not complete:
            self._newest.pop(partition, None)
            return
        backfill = Backfill(state)
        cap = backfill.started or self._run_started
        seen = self._newest.pop(partition, Newest()).value()
        if seen is not None:
            text, moment = seen
            value = text if moment <= cap else cap.isoformat()
        elif state.get(REPLICATION_VALUE):
            value = state[REPLICATION_VALUE]
        else:
            value = cap.isoformat()
        backfill.end()
        state[REPLICATION_KEY] = self._key
        state[REPLICATION_VALUE] = value

    def advance(self, state: dict[str, t.Any], value: str) -> None:
        """Set the bookmark directly (streams whose progress is the last day read, not a record value)."""
        state[REPLICATION_KEY] = self._key
        state[REPLICATION_VALUE] = value


class Backfill:
    """The `backfill` entry of one partition's state: when it began, how far it got."""

    def __init__(self, state: dict[str, t.Any]) -> None:
        self._state = state

    @property
    def in_progress(self) -> bool:
        return BACKFILL in self._state

    @property
    def started(self) -> dt.datetime | None:
        return read_datetime(self._state.get(BACKFILL, {}).get("started"))

    @property
    def done_through(self) -> dt.date | None:
        done = self._state.get(BACKFILL, {}).get("done_through")
        return dt.date.fromisoformat(done) if done else None

    def resume_from(self, start: dt.date) -> dt.date:
        """The first day still to read."""
        done = self.done_through
        return start if done is None else max(start, done + dt.timedelta(days=1))

    def begin(self, now: dt.datetime) -> None:
        self._state.setdefault(BACKFILL, {"started": now.isoformat()})

    def window_done(self, window: Window) -> None:
        self._state[BACKFILL]["done_through"] = window.last.isoformat()

    def end(self) -> None:
        self._state.pop(BACKFILL, None)
