"""What the tap noticed about how an API answers the questions its documents leave open.

Each open question (which clock the cursor uses, what `count` counts, ...) is answered by
the real API one way or another; the tap notices which way where it can and says so once
per stream, and decisions that every worker needs (the cursor's clock) are shared here.
Warnings about data that may be missing also go through here, once each. What was noticed
is listed again in the run summary (summary.py).
"""

from __future__ import annotations

import decimal
import logging
import threading
import typing as t


class Observations:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._said: set[str] = set()
        self._decided: dict[str, t.Any] = {}
        self.noticed: list[str] = []  # the notes logged below WARNING, for the run summary

    def note(self, key: str, message: str, *args: t.Any, level: int = logging.INFO) -> bool:
        """Log `message` once per `key`; True the first time."""
        with self._lock:
            if key in self._said:
                return False
            self._said.add(key)
            if level < logging.WARNING:
                self.noticed.append(message % args if args else message)
        self._logger.log(level, message, *args)
        return True

    def warn(self, key: str, message: str, *args: t.Any) -> bool:
        return self.note(key, message, *args, level=logging.WARNING)

    def decided(self, question: str, default: t.Any) -> t.Any:
        with self._lock:
            return self._decided.get(question, default)

    def decide(self, question: str, value: t.Any) -> None:
        with self._lock:
            self._decided[question] = value


def as_count(value: t.Any) -> int | None:
    """An envelope number (`count`, `limit`, `num_pages`), whether sent as a number or a string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)  # bodies are decoded with decimals as Decimal (http.py)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
