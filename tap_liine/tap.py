"""TapLiine: settings, validation, the shared resources and the stream list."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import json
import os
import signal
import sys
import threading
import typing as t

import click
import dotenv
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.tap_base import CliTestOptionValue

from tap_liine.cli_files import read_json_object, unknown_streams
from tap_liine.errors import Cancelled, RunStopped
from tap_liine.progress import StatePacer
from tap_liine.resources import TapResources
from tap_liine.saved_state import StateProblems, check_state
from tap_liine.sdk_seams import cli_config, write_schema_message
from tap_liine.settings import (
    BATCH_SIZE_SETTING,
    CONFIG_SCHEMA,
    ENV_PREFIX,
    config_errors,
    environment_config,
    plain_http_warnings,
    unknown_settings,
)
from tap_liine.streams.base import TapStream
from tap_liine.streams.conversations import ConversationMessagesStream, ConversationsStream
from tap_liine.streams.interactions import InteractionsStream
from tap_liine.streams.interactly import AppointmentStatisticsStream, AppointmentTrendsStream
from tap_liine.summary import RunSummary
from tap_liine.writer import BufferedRecords, TapWriter

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

    from singer_sdk.streams import Stream

STREAM_TYPES = (
    InteractionsStream,
    ConversationsStream,
    ConversationMessagesStream,
    AppointmentStatisticsStream,
    AppointmentTrendsStream,
)
OUTPUT_CLOSED = (
    "The tap's output was closed while it was still writing: the target (or whatever read it) stopped, and its own "
    "log says why. A run from the last STATE the target saved reads again what was lost."
)
CANCELLED_RUN = "%s: stopped early. The last STATE covers every record emitted; a run from it reads the rest."


class TapLiine(Tap):
    """Liine interactions, patient conversations and Interactly appointment statistics."""

    name = "tap-liine"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = TapWriter

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        self._resources: TapResources | None = None
        self._resources_lock = threading.Lock()
        self._state_pacer: StatePacer | None = None
        if kwargs.pop("parse_env_config", False):  # `--config ENV`, read by the settings' types (the SDK
            # passes numbers on as strings and trips over lists of numbers)
            if found := dotenv.find_dotenv(usecwd=True):  # as the SDK does, a `.env` is read too
                dotenv.load_dotenv(found)
            schema = copy.deepcopy(CONFIG_SCHEMA)
            self.append_builtin_config(schema)
            from_env, errors = environment_config(schema, ENV_PREFIX, os.environ)
            if errors:
                raise ConfigValidationError("Config validation failed", errors=errors)
            kwargs["config"] = {**(kwargs.get("config") or {}), **from_env}
        # The SDK validates too (and fills in defaults) but quotes values, secrets included:
        # its verdict is replaced by `config_errors`, one sentence per problem.
        super().__init__(*args, validate_config=False, **kwargs)
        errors = config_errors(self.config, self.config_jsonschema)
        unknown = unknown_settings(self.config, self.config_jsonschema)
        if errors and validate_config:  # a misspelt setting first: it is often why another is missing
            raise ConfigValidationError(
                "Config validation failed", errors=unknown + errors, schema=self.config_jsonschema
            )
        self.summary = RunSummary(self.logger)  # counts the warnings from here on
        for warning in plain_http_warnings(self.config) + unknown:
            self.logger.warning("%s", warning)
        if not errors:
            try:
                check_state(self.state, self.streams, dt.datetime.now(dt.timezone.utc), self.logger)
            except StateProblems as exc:
                self.summary.close()
                raise RunStopped(str(exc)) from None
        # The SDK's own handlers (installed by its __init__, just now) write a STATE from
        # wherever the signal lands and exit 0, as if the run had succeeded: replaced.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._cancel)
            signal.signal(signal.SIGINT, self._cancel)

    def _cancel(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        """SIGTERM or SIGINT: no further request goes out, and the stream being emitted stops at
        its next hand-over (the main thread polls for it, never waiting on a request itself),
        writes the state of what it emitted and raises `Cancelled` (see TapStream.get_records);
        the process exits 128 + the signal's number, saying so in one line (`_ending_plainly`)."""
        cancelled = Cancelled(signal.Signals(signum).name, 128 + signum)
        resources = self._resources
        # No stream reading yet (discovery, the catalog, the config), or a second signal: at once.
        if resources is None or not resources.syncing or resources.gate.failure is not None:
            raise cancelled
        resources.gate.fail(cancelled)

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, t.Any]) -> None:
        """The SDK's built-in settings, and `batch_config.batch_size`: the SDK reads it (records
        per BATCH file) but does not list it, so Meltano, the Hub and `--about` would not show it."""
        super().append_builtin_config(config_jsonschema)
        batch = config_jsonschema["properties"].get("batch_config")
        if batch is not None and "batch_size" not in batch["properties"]:
            # A copy: the SDK's own schema object is shared by every tap in the process.
            config_jsonschema["properties"]["batch_config"] = {
                **batch,
                "properties": {**batch["properties"], "batch_size": BATCH_SIZE_SETTING},
            }

    @property
    def resources(self) -> TapResources:
        """The session and gate, logins, observations: created once, by whichever thread asks first."""
        with self._resources_lock:
            if self._resources is None:
                self._resources = TapResources(self.config, self.logger)
            return self._resources

    @property
    def state_pacer(self) -> StatePacer:
        """Paces the STATE messages written after windows and partitions (progress.py)."""
        if self._state_pacer is None:
            self._state_pacer = StatePacer(self.state_writer, float(self.config.get("state_interval_seconds", 5)))
        return self._state_pacer

    def sync_all(self) -> None:  # type: ignore[misc]  # final in the SDK: wrapped, not changed
        """As the SDK's; a failed run still writes the state it held back, and every run ends with its summary.
        A cancel that came after the last stream had read (no stream was left to stop) still ends the run
        as cancelled, after the final STATE."""
        failed = True
        late: BaseException | None = None
        try:
            super().sync_all()
            failed = False
        finally:
            self._end_work()
            if failed:
                self.state_pacer.flush()
            if isinstance(self.message_writer, BufferedRecords):
                # Records after the last STATE (one the SDK skips as unchanged) go out now, not at exit.
                self.message_writer.flush()
            if not failed:
                self.resources.syncing = False  # from here on a cancel ends the process at once (`_cancel`)
                late = self.resources.gate.failure
                failed = isinstance(late, Cancelled)
            resources = self.resources
            self.summary.log(resources.observations.noticed, failed=failed, accepted=resources.credentials_accepted)
        if isinstance(late, Cancelled):
            raise late

    def run_sync_dry_run(self, *args: t.Any, **kwargs: t.Any) -> bool:  # type: ignore[misc]  # final in the SDK: wrapped, not changed
        """`--test` as the SDK's: it stops each stream after its first records; their workers stop too."""
        try:
            return super().run_sync_dry_run(*args, **kwargs)
        finally:
            self._end_work()

    def _end_work(self) -> None:
        """Every worker of the run stopped and joined, no request in flight or sent after this."""
        for stream in self.streams.values():
            if isinstance(stream, TapStream):
                stream.release_workers()
        if self._resources is not None:
            self._resources.end_run()

    def discover_streams(self) -> list[Stream]:
        # Every stream is listed whatever is configured, so a catalog can be built without credentials.
        return [stream_type(self) for stream_type in STREAM_TYPES]

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:  # type: ignore[override]  # same arguments, passed on
        """As the SDK's, but an API failure or a stopped run ends with one clear line, not a traceback."""
        with cls._ending_plainly():
            super().invoke(*args, **kwargs)

    @classmethod
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        """`--discover` as the SDK's; a cancel meanwhile ends with one line and 128 + the signal's number."""
        with cls._ending_plainly(cancelled="%s during discovery: no catalog was written whole; run it again."):
            super().cb_discover(ctx, param, value)

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test` as the SDK's, ending as a run does (refused credentials: one line, exit 1).

        `--test=schema` writes the SCHEMA messages a run would write: of the streams and properties
        `--catalog` selects, under the stream maps. (The SDK's writes every stream, its catalog unread.)
        Piped into a loader, it creates the tables a run fills, and nothing else: what shards loading
        side by side need first (orchestrate/).
        """
        with cls._ending_plainly():
            if value != CliTestOptionValue.Schema.value:
                super().cb_test(ctx, param, value)
                return
            (config, parse_env), catalog = cli_config(ctx), ctx.params.get("catalog")
            tap = cls(
                config=config, parse_env_config=parse_env, catalog=None if catalog is None else json.load(catalog)
            )
            for stream in tap.streams.values():
                if stream.selected:
                    write_schema_message(stream)
            ctx.exit()

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> t.Any:
        """`--config` as the SDK's, each file checked first (cli_files.py): a bad one ends in one sentence."""
        with cls._ending_plainly():
            for path in value:
                if path != "ENV":
                    read_json_object(path, "--config")
        return super().cb_config(ctx, param, value)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """As the SDK's, but `--state` and `--catalog` are read and checked by the tap (`cb_json_file`),
        so that a missing or malformed file ends in one sentence, not a usage error or a traceback."""
        command = super().get_singer_command()
        for number, option in enumerate(command.params):
            if option.name in ("state", "catalog"):
                command.params[number] = click.Option(
                    option.opts, help=getattr(option, "help", None), type=click.STRING, callback=cls.cb_json_file
                )
        return command

    @classmethod
    def cb_json_file(cls, ctx: click.Context, param: click.Parameter, value: str | None) -> io.StringIO | None:  # noqa: ARG003
        """The checked text of a `--state` or `--catalog` file, readable as the file the SDK expects."""
        if value is None:
            return None
        option = param.opts[0]
        with cls._ending_plainly():
            text, decoded = read_json_object(value, option)
            if option == "--catalog" and (unknown := unknown_streams(decoded, [s.name for s in STREAM_TYPES])):
                raise RunStopped(unknown)
        return io.StringIO(text)

    @classmethod
    @contextlib.contextmanager
    def _ending_plainly(cls, cancelled: str = CANCELLED_RUN) -> Iterator[None]:
        try:
            yield
        except (FatalAPIError, RunStopped) as exc:
            cls.logger.error("%s", exc)  # noqa: TRY400 - the message says it all
            sys.exit(1)
        except ConfigValidationError as exc:  # as a run's (the SDK's command says it so only around a run)
            for error in exc.errors:
                cls.logger.error("%s", error)  # noqa: TRY400
            cls.logger.error("Config validation failed")  # noqa: TRY400
            sys.exit(1)
        except Cancelled as exc:
            cls.logger.warning(cancelled, exc)
            sys.exit(exc.exit_code)
        except BrokenPipeError:  # click then ends the process quietly, exit 1
            cls.logger.error(OUTPUT_CLOSED)  # noqa: TRY400 - the message says it all
            raise


if __name__ == "__main__":
    TapLiine.cli()
