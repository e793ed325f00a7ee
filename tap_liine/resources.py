"""What every stream and thread of one tap run shares, created once, up front.

One session whose transport adapter sends every request (logins included) through the
request gate; one login per source, checked for every source before any data request;
what the APIs turned out to answer to their documents' open questions; and the moment the
run began, which no bookmark may pass; the worker threads of the run, all stopped at its end.
Streams reach it through `TapStream.resources`, typed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import typing as t

import requests
from singer_sdk.authenticators import APIAuthenticatorBase, BearerTokenAuthenticator

from tap_liine.auth import ConversationsAuthenticator, LiineAuthenticator
from tap_liine.batch_files import BatchFolder
from tap_liine.gate import GatedAdapter, RequestGate
from tap_liine.observations import Observations
from tap_liine.pipeline import WorkerThreads, on_worker
from tap_liine.retries import RetryNotices, RetryPolicy

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.batch import StorageTarget

    from tap_liine.streams.base import TapStream


class TapResources:
    def __init__(self, config: t.Mapping[str, t.Any], logger: logging.Logger) -> None:
        self.config = config
        self.workers = int(config.get("max_parallel_requests", 4))
        self.timeout = float(config.get("request_timeout", 300))
        self.gate = RequestGate(parallel=self.workers, per_second=float(config.get("max_requests_per_second", 0)))
        self.threads = WorkerThreads()
        self.session = requests.Session()
        self.retry = RetryPolicy.from_config(config, sleep=self.gate.sleep)
        adapter = GatedAdapter(
            self.gate,
            default_pause=self.retry.first_wait,
            longest_wait=self.retry.longest_wait,
            pool_maxsize=max(10, self.workers),  # a kept-alive connection per worker thread
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.logger = logger
        self.observations = Observations(logger)
        self.retry_notices = RetryNotices(logger)
        self.run_started = dt.datetime.now(dt.timezone.utc)
        self._lock = threading.Lock()
        self._authenticators: dict[str, APIAuthenticatorBase] = {}
        self._credentials_checked = False
        self.credentials_accepted: list[str] = []  # the sources whose check passed, in order
        self.syncing = False  # a stream has begun reading: a cancel stops it at its next hand-over
        self._batch_folders: dict[str, BatchFolder] = {}

    def check_credentials(self, streams: Iterable[TapStream]) -> None:
        """Once, before any data request: one login (or token check) per source a selected stream
        reads, so that refused credentials fail the run at once, not after hours of another source."""
        with self._lock:
            if self._credentials_checked:
                return
            self._credentials_checked = True
        checked = self.credentials_accepted
        for stream in streams:
            if (stream.selected or stream.has_selected_descendents) and stream.api_name not in checked:
                on_worker(
                    stream.check_credentials, gate=self.gate, threads=self.threads
                )  # a login held up delays no cancel
                checked.append(stream.api_name)
        if checked:
            self.logger.info("Credentials accepted by %s.", ", ".join(checked))

    def end_run(self) -> None:
        """No request goes out any more, a retry's wait ends at once, and every worker is joined
        (the streams have released theirs): the run's work is over when it returns or raises."""
        self.gate.close()
        if left := self.threads.join():
            self.logger.info(
                "%d worker threads still wait for an answer to a request sent before the run ended; "
                "they send nothing more.", len(left),
            )  # fmt: skip

    def batch_folder(self, storage: StorageTarget, tap_name: str) -> BatchFolder:
        """One per batch root, prepared once a run (see BatchFolder.prepare)."""
        with self._lock:
            key = repr(storage)
            if key not in self._batch_folders:
                self._batch_folders[key] = BatchFolder(storage, tap_name, self.logger)
                self._batch_folders[key].prepare()
            return self._batch_folders[key]

    def authenticator_for(self, source: str) -> APIAuthenticatorBase:
        """One authenticator (hence one login) per source, shared by its streams and threads."""
        with self._lock:
            if source not in self._authenticators:
                self._authenticators[source] = self._new_authenticator(source)
            return self._authenticators[source]

    def _new_authenticator(self, source: str) -> APIAuthenticatorBase:
        # A login goes out as every request does: the shared session, its timeout and retries.
        shared: dict[str, t.Any] = {"session": self.session, "timeout": self.timeout, "retry": self.retry,
                                    "logger": self.logger, "notices": self.retry_notices}  # fmt: skip
        if source == "Liine":
            return LiineAuthenticator(
                api_url=self.config["api_url"],
                username=self.config.get("username", ""),
                password=self.config.get("password", ""),
                **shared,
            )
        if source == "Conversations":
            return ConversationsAuthenticator(
                api_url=self.config["conversations_api_url"],
                api_key=self.config.get("conversations_api_key", ""),
                **shared,
            )
        if source == "Interactly":
            return BearerTokenAuthenticator(token=self.config.get("interactly_api_key", ""))
        msg = f"unknown source {source!r}"
        raise ValueError(msg)
