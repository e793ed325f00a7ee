"""`TapStream`: what every stream of the tap shares, whichever of the three APIs it reads.

A stream plans each partition (customer, location, integration) as tasks (windows, days,
one walk); the ordered pipeline (pipeline.py) fetches them ahead on worker threads and
hands their records back in order; after each task the stream may save progress, after
each partition its bookmark is written (bookmarks.py) and a STATE goes out when every record
it covers is out (progress.py). Requests go
through resilient HTTP (http.py) on the tap's shared, gated session (resources.py);
records are conformed a page at a time (fidelity.py) and emitted on the lean path
(sdk_seams.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import typing as t
from functools import cached_property

import requests
from singer_sdk.exceptions import FatalAPIError, MaxRecordsLimitException
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream

from tap_liine.auth import ExchangedTokenAuthenticator
from tap_liine.bookmarks import Bookmarks, partition_words
from tap_liine.errors import Cancelled, RunStopped
from tap_liine.fidelity import TypeFidelity
from tap_liine.gate import Stopped
from tap_liine.http import ResilientHTTP
from tap_liine.instants import UtcInstants, parse_datetime
from tap_liine.pipeline import PartitionPipeline, batched
from tap_liine.progress import ProgressWriting
from tap_liine.sdk_seams import PAGINATION_STOPPED, UNHANDLED_ERROR, SdkSeams
from tap_liine.settings import API_URLS, source_configured, source_hint

if t.TYPE_CHECKING:
    from singer_sdk.authenticators import APIAuthenticatorBase
    from singer_sdk.helpers.types import Context

    from tap_liine.observations import Observations
    from tap_liine.resources import TapResources


class TapStream(SdkSeams, ResilientHTTP, ProgressWriting):
    api_name = "API"  # set by subclasses: "Liine", "Conversations", "Interactly"
    # The SDK's per-field conformance is replaced by `conform`, a page at a time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()  # per worker thread: its paginator, partition, decoded body
        self.bookmarks = Bookmarks(self.replication_key or "", self.resources.run_started)
        self._pipeline: PartitionPipeline[t.Any] | None = None
        # Partitions with a task whose walk ended without proof of its end (worker threads add).
        self._unproven: set[tuple[t.Any, ...]] = set()
        self._unproven_lock = threading.Lock()
        self._said_unconfigured = False

    # ----- what the tap shares ---------------------------------------------------------------

    @property
    def resources(self) -> TapResources:
        return self.owner.resources

    @property
    def observations(self) -> Observations:
        return self.resources.observations

    @property
    def url_base(self) -> str:
        return str(self.config[API_URLS[self.api_name]]).rstrip("/")

    @property
    def authenticator(self) -> APIAuthenticatorBase:
        return self.resources.authenticator_for(self.api_name)

    @property
    def requests_session(self) -> requests.Session:
        return self.resources.session

    def build_prepared_request(self, *args: t.Any, **kwargs: t.Any) -> requests.PreparedRequest:
        # As the SDK's, without setting the authenticator on the shared session: the SDK
        # authenticates each attempt anyway, and the session also carries the logins.
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    @cached_property
    def timeout(self) -> int:  # type: ignore[override]  # the SDK types it int; seconds may be fractional
        return t.cast("int", self.resources.timeout)

    @property
    def selected(self) -> bool:
        """Selected in the catalog, and its source configured (else skipped, said once)."""
        if not super().selected:
            return False
        if source_configured(self.config, self.api_name):
            return True
        if not self._said_unconfigured:
            self._said_unconfigured = True
            self.logger.info(
                "Skipping stream '%s': the %s source is not configured (%s).",
                self.name, self.api_name, source_hint(self.api_name),
            )  # fmt: skip
        return False

    @selected.setter
    def selected(self, value: bool | None) -> None:
        RESTStream.selected.fset(self, value)  # type: ignore[attr-defined]  # the SDK's own setter

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """The SDK's stream log, less misleading lines: "Pagination stopped after N pages" after
        every walk that ends on an empty page (dozens per run; the run summary counts pages), and
        its ERROR "An unhandled error occurred" when `--test` stops a stream after its first record,
        as it means to, or when the run fails with the tap's own sentence (said once, at the end)."""
        if message.startswith(PAGINATION_STOPPED):
            return
        error = sys.exc_info()[1]
        if message == UNHANDLED_ERROR and (
            isinstance(error, (FatalAPIError, RunStopped))
            or isinstance(getattr(error, "__cause__", None), MaxRecordsLimitException)
        ):
            return
        super().log(message, *args, level=level, **kwargs)

    def tally(self, what: str, count: int = 1, context: Context | None = None) -> None:
        """Count records, pages, retries or re-logins for the run summary, by partition (the one this
        thread fetches, unless `context` names it)."""
        partition = self.partition_words(context) if context is not None else getattr(self._local, "partition", "")
        if partition:  # outside any partition a request is the start's credentials check: no stream's reading
            self.owner.summary.add(self.name, partition, what, count)

    def partition_words(self, context: Context | None) -> str:
        """E.g. "customer 101", "integration 5eb7..., appointment_type all"."""
        return partition_words(self.state_manager.get_state_partition_context(context) or {})

    empty_page: t.ClassVar[t.Any] = None  # the body of an empty page, for APIs paged by number

    def past_the_last_page(self) -> t.Any | None:
        paginator = getattr(self._local, "paginator", None)
        refused = getattr(paginator, "past_the_last", None)
        return self.empty_page if self.empty_page is not None and refused is not None and refused() else None

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: bookmarks are capped at the run's start by `Bookmarks` instead."""

    # ----- records -----------------------------------------------------------------------------

    @cached_property
    def fidelity(self) -> TypeFidelity:
        return TypeFidelity(self.schema, stream=self.name, logger=self.logger)

    @cached_property
    def instants(self) -> UtcInstants:
        return UtcInstants(self.schema, stream=self.name, logger=self.logger)

    def conform(self, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """Each value as its schema declares it, where the value carries that type; date-times
        with an offset in UTC (in place)."""
        return self.instants.page(self.fidelity.page(records))

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """This partition's tasks, fetched ahead with those of the partitions after it, emitted
        in order, each followed by `task_done`, then the partition's bookmark and a STATE."""
        if context is None:  # no partition at all: this source is not configured
            return
        self.resources.syncing = True
        try:
            yield from self._partition_records(context)
        except (Cancelled, Stopped) as exc:
            failure = self.resources.gate.failure if isinstance(exc, Stopped) else exc
            if not isinstance(failure, Cancelled):
                raise
            # The state as of the last task done: every record it covers is out, and the
            # records of the unfinished task are read again by the next run.
            self.emit_state()
            raise failure from None

    def _partition_records(self, context: Context) -> t.Iterable[dict[str, t.Any]]:
        self.resources.check_credentials(t.cast("list[TapStream]", list(self.owner.streams.values())))
        pipeline = self._pipeline
        if pipeline is None or pipeline.next_partition != dict(context):
            # First partition, or the SDK asks out of the planned order: plan from here.
            pipeline = self._start_pipeline(dict(context))
        self.tally("records", 0, context)  # listed in the summary even when empty
        for task, batches in pipeline.take(dict(context)):
            for batch in batches:
                admitted = self.admit(context, task, batch)
                self.tally("records", len(admitted), context)
                yield from admitted
            self.task_done(context, task)
        self.partition_done(context)
        self.finish_partition(context)

    def check_credentials(self) -> None:
        """Log in (once per run, see `TapResources.check_credentials`); raises when refused."""
        if isinstance(self.authenticator, ExchangedTokenAuthenticator):
            self.authenticator.current_header()

    def _start_pipeline(self, context: dict[str, t.Any]) -> PartitionPipeline[t.Any]:
        self.release_workers()
        partitions = [dict(p) for p in (self.partitions or [])]
        later = partitions[partitions.index(context) :] if context in partitions else [context]
        self._pipeline = PartitionPipeline(
            [(p, self.plan(p)) for p in later],
            lambda p, task: batched(self._fetch_on_worker(p, task)),
            workers=self.resources.workers,
            gate=self.resources.gate,
            threads=self.resources.threads,
        )
        return self._pipeline

    def release_workers(self) -> None:
        """The pipeline's workers stop (a new plan, or the run's end whether it succeeded or not)."""
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None

    def _fetch_on_worker(self, context: Context, task: t.Any) -> t.Iterator[dict[str, t.Any]]:
        self._local.where = self.describe(context, task)
        self._local.partition = self.partition_words(context)
        yield from self.fetch(context, task)
        if not self.walk_finished():  # before the task's end reaches the main thread
            with self._unproven_lock:
                self._unproven.add(self.partition_key(context))

    def read_to_proof(self, context: Context) -> bool:
        """Every task of the partition so far read to proof of its end (main thread)."""
        with self._unproven_lock:
            return self.partition_key(context) not in self._unproven

    # Hooks for the streams:

    def describe(self, context: Context, task: t.Any) -> str:  # noqa: ARG002
        """What a task is about, for messages: e.g. "customer 101, window 2026-01-01..2026-01-30"."""
        return partition_words(context)

    def plan(self, context: Context) -> list[t.Any]:  # noqa: ARG002
        """The tasks of one partition, in order. Default: one walk over all its pages."""
        return [None]

    def fetch(self, context: Context, task: t.Any) -> t.Iterable[dict[str, t.Any]]:  # noqa: ARG002
        """The records of one task; runs on a worker thread."""
        return self.request_records(context)

    def admit(self, context: Context, task: t.Any, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:  # noqa: ARG002
        """The records of a task to emit, in order (main thread). Default: all of them."""
        return records

    def walk_finished(self) -> bool:
        """After a task's last page (worker thread): False when its walk could not prove it read
        everything (it has warned); the partition's bookmark then stays where it was."""
        return True

    def task_done(self, context: Context, task: t.Any) -> None:
        """After a task's records are out (main thread): save progress."""

    def partition_done(self, context: Context) -> None:
        """After the partition's last task, before its bookmark is written."""

    # ----- state -------------------------------------------------------------------------------

    def bookmark(self, record: dict[str, t.Any], context: Context | None) -> None:
        self.bookmarks.see(self.partition_key(context), record)

    def finish_partition(self, context: Context) -> None:
        """Write the partition's bookmark and a STATE: a run that fails later keeps it."""
        key, state = self.partition_key(context), self.get_context_state(context)
        complete = self.read_to_proof(context)
        with self._unproven_lock:
            self._unproven.discard(key)
        self.save_progress(lambda: self.bookmarks.finish(key, state, complete=complete))

    def partition_key(self, context: Context | None) -> tuple[t.Any, ...]:
        partition = self.state_manager.get_state_partition_context(context) or {}
        return tuple(sorted(partition.items()))

    def rewound_bookmark(self, context: Context | None, lookback_setting: str = "lookback_days") -> dt.datetime | None:
        """This partition's saved bookmark less the lookback; None on a first run."""
        bookmark = self.get_context_state(context).get("replication_key_value")
        if not bookmark:
            return None
        lookback = dt.timedelta(days=int(self.config.get(lookback_setting, 1)))
        return parse_datetime(bookmark) - lookback

    def updated_since(self, context: Context | None) -> dt.datetime:
        """The bookmark less the lookback, or `start_date` on a first run."""
        return self.rewound_bookmark(context) or parse_datetime(self.config["start_date"])
