"""The ordered partition pipeline: tasks fetched ahead on worker threads, emitted in order.

A stream's partitions (customers, locations, integrations) are split into tasks (windows,
days, one walk). `PartitionPipeline` runs the tasks of a partition and of the partitions
after it on up to `workers` threads, but hands their records back in task order through
small bounded queues: memory stays bounded, and the caller writes a STATE after a task
knowing every record it covers has been written. When any task fails, the gate's failure
is set at once (no worker sends another request) and the caller gets that error the next
time it waits; no hand-over between threads can block forever. The main thread itself
never waits on a request (`on_worker`), so a cancel is acted on while requests are in flight.
Every worker is started by the run's `WorkerThreads`, which joins them all when the run ends.
"""

from __future__ import annotations

import collections
import itertools
import queue
import threading
import time
import typing as t

from tap_liine.gate import RequestGate, Stopped

T = t.TypeVar("T")
R = t.TypeVar("R")
_DONE = object()
_POLL = 0.1
WORKER_NAME = "tap-liine-worker"  # in thread dumps and tracebacks
# How long the end of a run waits for its workers: those the gate has stopped end within a
# poll; only one whose answer is still on its way may be left (it sends nothing more).
JOIN_WAIT = 3.0


class WorkerThreads:
    """Starts the worker threads of one tap run, and at its end joins those still running."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: list[threading.Thread] = []
        self._numbers = itertools.count(1)

    def start(self, target: t.Callable[..., None], *args: t.Any) -> threading.Thread:
        # Daemon: a worker left waiting for an answer never keeps the process from exiting.
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"{WORKER_NAME}-{next(self._numbers)}")
        with self._lock:
            self._running = [running for running in self._running if running.is_alive()]
            self._running.append(thread)
        thread.start()
        return thread

    def join(self, timeout: float = JOIN_WAIT) -> list[threading.Thread]:
        """Wait up to `timeout` in all for every worker to end (stop them first); those still running."""
        deadline = time.monotonic() + timeout
        with self._lock:
            running = list(self._running)
        for thread in running:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [thread for thread in running if thread.is_alive()]


def in_order(
    tasks: t.Iterable[T],
    produce: t.Callable[[T], t.Iterable[R]],
    *,
    workers: int,
    gate: RequestGate,
    threads: WorkerThreads,
    buffer: int = 2,
) -> t.Generator[tuple[T, t.Iterator[R]], None, None]:
    """(task, its results) in task order; up to `workers` tasks are produced concurrently.

    Each result iterator must be consumed before the next pair is asked for. A task's error
    fails the gate (every request stops) and is raised to the consumer; stopping early
    releases every worker.
    """
    pending = collections.deque(tasks)
    running: collections.deque[tuple[T, queue.Queue[t.Any]]] = collections.deque()
    stop = threading.Event()

    def hand_over(out: queue.Queue[t.Any], item: t.Any) -> bool:
        """Put `item`, unless the consumer has gone; False then."""
        while not stop.is_set():
            try:
                out.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return True
        return False

    def work(task: T, out: queue.Queue[t.Any]) -> None:
        try:
            for item in produce(task):
                if not hand_over(out, item):
                    return
            hand_over(out, _DONE)
        except BaseException as exc:
            gate.fail(exc)
            hand_over(out, exc)

    def start_more() -> None:
        while pending and len(running) < workers:
            task = pending.popleft()
            out: queue.Queue[t.Any] = queue.Queue(maxsize=buffer)
            threads.start(work, task, out)
            running.append((task, out))

    def drain(out: queue.Queue[t.Any]) -> t.Iterator[R]:
        while True:
            try:
                item = out.get(timeout=_POLL)
            except queue.Empty:
                if gate.failure is not None:  # another task failed: no point waiting for this one
                    raise gate.failure from None
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise (gate.failure or item) if isinstance(item, Stopped) else item
            yield item

    try:
        start_more()
        while running:
            task, out = running.popleft()
            yield task, drain(out)
            start_more()
    finally:
        stop.set()


def on_worker(call: t.Callable[[], R], *, gate: RequestGate, threads: WorkerThreads) -> R:
    """`call()` on a worker thread, the caller waiting as it waits for a task's records: a
    cancel (the gate's failure) is acted on at once, whatever request `call` is blocked in."""
    ordered = in_order([call], lambda c: [c()], workers=1, gate=gate, threads=threads)
    try:
        _, results = next(ordered)
        return next(results)
    finally:
        ordered.close()


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
    partitions while the current one is being emitted, without changing what is emitted
    or when its STATE is written.
    """

    def __init__(
        self,
        plans: list[tuple[dict[str, t.Any], list[T]]],
        produce: t.Callable[[dict[str, t.Any], T], t.Iterable[t.Any]],
        *,
        workers: int,
        gate: RequestGate,
        threads: WorkerThreads,
    ) -> None:
        tasks = [(context, task) for context, partition_tasks in plans for task in partition_tasks]
        self._remaining = collections.deque(context for context, _ in plans)
        self._ordered = in_order(tasks, lambda pair: produce(*pair), workers=workers, gate=gate, threads=threads)
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
        """Release every worker of this pipeline (each stops at its next hand-over)."""
        self._ordered.close()
