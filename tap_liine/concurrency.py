"""Concurrent fetching that keeps the Singer output's guarantees.

`in_order` runs tasks (windows, days) on worker threads but hands their results back in
task order, each through a small bounded queue: memory stays bounded, and the caller can
write a STATE after a task knowing every record it covers has been written.
`RequestGate` is shared by every request of the tap: it caps parallel requests and
requests per second, and after a 429 holds *all* workers until Retry-After has passed.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
import typing as t

T = t.TypeVar("T")
R = t.TypeVar("R")
_DONE = object()


class RequestGate:
    def __init__(self, *, parallel: int, per_second: float = 0.0) -> None:
        self._slots = threading.BoundedSemaphore(parallel)
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._lock = threading.Lock()
        self._next_start = 0.0
        self._paused_until = 0.0
        self.in_flight = 0
        self.peak_in_flight = 0

    def pause(self, seconds: float) -> None:
        """A 429 asked to wait: every worker waits, not just the one that got it."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def __enter__(self) -> RequestGate:
        self._slots.acquire()
        while True:
            with self._lock:
                now = time.monotonic()
                wait = max(self._paused_until, self._next_start) - now
                if wait <= 0:
                    self._next_start = now + self._interval
                    self.in_flight += 1
                    self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                    return self
            time.sleep(wait)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.in_flight -= 1
        self._slots.release()


def in_order(
    tasks: t.Iterable[T],
    produce: t.Callable[[T], t.Iterable[R]],
    *,
    workers: int,
    buffer: int = 2,
) -> t.Generator[tuple[T, t.Iterator[R]], None, None]:
    """(task, its results) in task order; up to `workers` tasks are produced concurrently.

    Each result iterator must be consumed before the next pair is asked for. An error in a
    task is raised when its results are consumed; stopping early releases every worker.
    """
    pending = collections.deque(tasks)
    running: collections.deque[tuple[T, queue.Queue[t.Any]]] = collections.deque()
    stop = threading.Event()

    def work(task: T, out: queue.Queue[t.Any]) -> None:
        try:
            for item in produce(task):
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(_DONE)
        except BaseException as exc:
            out.put(exc)

    def start_more() -> None:
        while pending and len(running) < workers:
            task = pending.popleft()
            out: queue.Queue[t.Any] = queue.Queue(maxsize=buffer)
            threading.Thread(target=work, args=(task, out), daemon=True).start()
            running.append((task, out))

    def drain(out: queue.Queue[t.Any]) -> t.Iterator[R]:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    try:
        start_more()
        while running:
            task, out = running.popleft()
            yield task, drain(out)
            start_more()
    finally:
        stop.set()


def batched(items: t.Iterable[R], size: int = 500) -> t.Iterator[list[R]]:
    """Lists of up to `size` items: one queue hand-over per batch, not per record."""
    batch: list[R] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class PartitionPipeline(t.Generic[T]):
    """One `in_order` run over the tasks of every partition of a stream.

    The SDK syncs partitions one after another; this lets workers run ahead into the next
    partitions (other customers, locations, integrations) while the current one is being
    emitted, without changing what is emitted or when its STATE is written.
    """

    def __init__(
        self,
        plans: list[tuple[dict[str, t.Any], list[T]]],
        produce: t.Callable[[dict[str, t.Any], T], t.Iterable[t.Any]],
        *,
        workers: int,
    ) -> None:
        tasks = [(context, task) for context, partition_tasks in plans for task in partition_tasks]
        self._remaining = collections.deque(context for context, _ in plans)
        self._ordered = in_order(tasks, lambda pair: produce(*pair), workers=workers)
        self._ahead: tuple[tuple[dict[str, t.Any], T], t.Iterator[t.Any]] | None = None

    @property
    def next_partition(self) -> dict[str, t.Any] | None:
        return self._remaining[0] if self._remaining else None

    def take(self, context: dict[str, t.Any]) -> t.Iterator[tuple[T, t.Iterator[t.Any]]]:
        """The tasks of `context`'s partition (the next one), in order, with their results."""
        self._remaining.popleft()
        while True:
            if self._ahead is None:
                self._ahead = next(self._ordered, None)
                if self._ahead is None:
                    return
            (owner, task), results = self._ahead
            if owner != context:
                return
            self._ahead = None
            yield task, results

    def close(self) -> None:
        self._ordered.close()
