"""When a STATE may go out: only once every record it covers has left the tap, and not too often.

With RECORD messages that is at once. With BATCH messages a record may still sit in the
file being filled, so a state change waits until the SDK has announced that file; the SDK
then writes the BATCH message and a STATE. A run that stops in between keeps the older
state, and the next run extracts those records again rather than skipping them.

A STATE after every window (a day, for the Interactly statistics) is hundreds per run, and
each one makes a loader flush. `StatePacer` writes at most one per `state_interval_seconds`;
a state held back is written by the next one due, by the SDK at the end of each stream,
or by `flush` when a run fails, so what a run finished is never lost.
"""

from __future__ import annotations

import threading
import time
import typing as t

from singer_sdk.streams import RESTStream

from tap_liine.batches import write_batches

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, TapState

    from tap_liine.tap import TapLiine


class StateWriter(t.Protocol):
    def write_state(self, state: TapState) -> None: ...


class StatePacer:
    """STATE messages at most one per `interval` seconds; the one held back goes out with `flush`."""

    def __init__(self, writer: StateWriter, interval: float, clock: t.Callable[[], float] = time.monotonic) -> None:
        self._writer = writer
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._held: TapState | None = None
        self._lock = threading.Lock()

    def offer(self, state: TapState) -> None:
        """Write `state` now if the interval has passed since the last STATE, else hold it."""
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self._interval:
                self._held = state
                return
            self._last, self._held = now, None
        self._writer.write_state(state)

    def flush(self) -> None:
        """Write the state held back, if any (a failed run: what it finished)."""
        with self._lock:
            held, self._held = self._held, None
        if held is not None:
            self._writer.write_state(held)


class ProgressWriting(RESTStream[t.Any]):
    """The stream base's state writing, BATCH-aware."""

    if t.TYPE_CHECKING:  # provided by SdkSeams, mixed in ahead of this

        def records_for_batches(self, context: Context | None) -> t.Iterator[tuple[str, dict[str, t.Any]]]: ...

        @property
        def owner(self) -> TapLiine: ...

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._batching = False  # BATCH messages: state changes wait for the file holding their records
        self._pending_changes: list[t.Callable[[], None]] = []
        self.batch_streams: dict[str, str] = {}  # a BATCH file's URL: the stream (map) name it goes out under

    def save_progress(self, change: t.Callable[[], None]) -> None:
        """Apply `change` to the state and write a STATE, once every record it covers is out.

        With RECORD messages they are out already. With BATCH messages the last of them may
        still be in the file being filled: the change waits for that file, after which the
        SDK writes a BATCH and then a STATE message (see `get_batches`).
        """
        if self._batching:
            self._pending_changes.append(change)
        else:
            change()
            self.emit_state()

    def get_batches(self, batch_config: t.Any, context: Context | None = None) -> t.Iterable[tuple[t.Any, list[str]]]:
        """BATCH files (batches.py), each holding what RECORD messages would, then their state."""
        self._batching = True
        folder = self.owner.resources.batch_folder(batch_config.storage, self.tap_name)
        files = write_batches(self.records_for_batches(context), folder, batch_config, self.tap_name)
        for stream, url in files:
            self._apply_pending_changes()  # every record so far is in the files announced now
            self.batch_streams[url] = stream
            yield batch_config.encoding, [url]
        self._apply_pending_changes()  # nothing is left unwritten: the SDK's last STATE carries them

    def _apply_pending_changes(self) -> None:
        changes, self._pending_changes = self._pending_changes, []
        for change in changes:
            change()

    def emit_state(self) -> None:
        """Offer a STATE (after a window: every record it covers is already out); see `StatePacer`."""
        self.owner.state_pacer.offer(self.tap_state)
