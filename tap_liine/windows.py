"""Windows of whole UTC days (a first run walks `start_date` to today in them, oldest first)."""

from __future__ import annotations

import dataclasses
import datetime as dt


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
