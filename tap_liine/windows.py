"""Date windows for backfills, and the progress a partition's state keeps of them.

A first run (no bookmark) walks `start_date` to today in windows, oldest first. After each
window the partition's state records `backfill.done_through`; a rerun from that state
continues with the next window, so a killed backfill re-reads at most one window.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

BACKFILL = "backfill"


@dataclasses.dataclass(frozen=True)
class Window:
    """Whole UTC days, both ends included."""

    first: dt.date
    last: dt.date


def day_windows(first: dt.date, last: dt.date, size_days: int) -> list[Window]:
    windows = []
    while first <= last:
        end = min(last, first + dt.timedelta(days=size_days - 1))
        windows.append(Window(first, end))
        first = end + dt.timedelta(days=1)
    return windows


class Backfill:
    """The `backfill` entry of one partition's state: when it began, how far it got."""

    def __init__(self, state: dict[str, t.Any]) -> None:
        self._state = state

    @property
    def in_progress(self) -> bool:
        return BACKFILL in self._state

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

    def finish(self) -> None:
        """Backfill complete. Its bookmark may not be later than the moment it began:
        what changed in windows read earlier (maybe in an earlier run) is re-read next time."""
        started = self._state.pop(BACKFILL, {}).get("started")
        markers = self._state.get("progress_markers") or {}
        seen = markers.get("replication_key_value")
        if started and seen and _moment(seen) > _moment(started):
            markers["replication_key_value"] = started


def _moment(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
