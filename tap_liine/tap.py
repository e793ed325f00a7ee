"""TapLiine: settings, validation, shared HTTP resources and the stream list."""

from __future__ import annotations

import sys
import threading
import typing as t
from functools import cached_property

import requests
from singer_sdk import Tap
from singer_sdk.authenticators import APIAuthenticatorBase, BearerTokenAuthenticator
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError

from tap_liine.auth import ConversationsAuthenticator, LiineAuthenticator
from tap_liine.concurrency import RequestGate
from tap_liine.observations import Observations
from tap_liine.settings import CONFIG_SCHEMA, semantic_errors
from tap_liine.streams.conversations import ConversationMessagesStream, ConversationsStream
from tap_liine.streams.interactions import InteractionsStream
from tap_liine.streams.interactly import AppointmentStatisticsStream, AppointmentTrendsStream

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

# Which settings switch each source on, and what to tell a user who has not set them.
SOURCES: dict[str, tuple[str, ...]] = {
    "Liine": ("customer_ids", "username", "password"),
    "Conversations": ("conversations_api_key", "conversations_subdomain", "conversations_location_ids"),
    "Interactly": ("interactly_api_key", "interactly_integration_ids"),
}


class TapLiine(Tap):
    """Liine interactions, patient conversations and Interactly appointment statistics."""

    name = "tap-liine"
    config_jsonschema = CONFIG_SCHEMA.to_dict()
    # msgspec encodes RECORD lines several times faster than the default simplejson writer.
    message_writer_class = MsgSpecWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._auth_lock = threading.Lock()
        self._authenticators: dict[str, APIAuthenticatorBase] = {}
        self._http_session: requests.Session | None = None
        super().__init__(*args, **kwargs)
        # What the APIs turn out to answer to their documents' open questions, said once each.
        self.observations = Observations(self.logger)

    def discover_streams(self) -> list[Stream]:
        # Every stream is listed whatever is configured, so a catalog can be built without credentials.
        return [
            InteractionsStream(self),
            ConversationsStream(self),
            ConversationMessagesStream(self),
            AppointmentStatisticsStream(self),
            AppointmentTrendsStream(self),
        ]

    # ----- validation -----------------------------------------------------------------------

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            errors = list(exc.errors)
        errors += semantic_errors(self.config)
        if not any(self.source_configured(source) for source in SOURCES):
            errors.append(
                "No source is configured. Set `customer_ids`, `username` and `password` for Liine "
                "interactions, and/or `conversations_api_key`, `conversations_subdomain` and "
                "`conversations_location_ids` for patient conversations, and/or `interactly_api_key` and "
                "`interactly_integration_ids` for appointment statistics (see the README's settings table)."
            )
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors, schema=self.config_jsonschema)
        return errors

    def source_configured(self, source: str) -> bool:
        return any(self.config.get(name) for name in SOURCES[source])

    @staticmethod
    def source_hint(source: str) -> str:
        return "set " + ", ".join(f"`{name}`" for name in SOURCES[source])

    # ----- shared HTTP resources ---------------------------------------------------------------

    @cached_property
    def gate(self) -> RequestGate:
        """Every request of every stream and thread passes here: parallelism, rate, 429 pauses."""
        return RequestGate(
            parallel=int(self.config.get("max_parallel_requests", 4)),
            per_second=float(self.config.get("max_requests_per_second", 0)),
        )

    @property
    def workers(self) -> int:
        return int(self.config.get("max_parallel_requests", 4))

    @property
    def http_session(self) -> requests.Session:
        """One connection pool for every stream and thread."""
        with self._auth_lock:
            if self._http_session is None:
                self._http_session = requests.Session()
                # A connection per worker thread, kept alive.
                adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, self.workers))
                self._http_session.mount("http://", adapter)
                self._http_session.mount("https://", adapter)
            return self._http_session

    def authenticator_for(self, source: str) -> APIAuthenticatorBase:
        """One authenticator (hence one login) per source, shared by its streams."""
        with self._auth_lock:
            if source not in self._authenticators:
                self._authenticators[source] = self._new_authenticator(source)
            return self._authenticators[source]

    def _new_authenticator(self, source: str) -> APIAuthenticatorBase:
        timeout = float(self.config.get("request_timeout", 300))
        if source == "Liine":
            return LiineAuthenticator(
                api_url=self.config["api_url"],
                username=self.config.get("username", ""),
                password=self.config.get("password", ""),
                timeout=timeout,
            )
        if source == "Conversations":
            return ConversationsAuthenticator(
                api_url=self.config["conversations_api_url"],
                api_key=self.config.get("conversations_api_key", ""),
                timeout=timeout,
            )
        if source == "Interactly":
            return BearerTokenAuthenticator(token=self.config.get("interactly_api_key", ""))
        msg = f"unknown source {source!r}"
        raise ValueError(msg)

    # ----- running ------------------------------------------------------------------------

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:  # type: ignore[override]
        """As the SDK's, but an API failure ends the run with one clear line, not a traceback."""
        try:
            super().invoke(*args, **kwargs)
        except FatalAPIError as exc:
            cls.logger.error("%s", exc)  # noqa: TRY400 - the message says it all
            sys.exit(1)


if __name__ == "__main__":
    TapLiine.cli()
