"""The practices to sync and their split into shards, read from practices.yml."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys
import typing as t
import zoneinfo
from pathlib import Path

import pydantic
import pydantic_core
import yaml

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "practices.yml"

# Each list of ids is split across the shards; a shard with no ids of a source gets that
# source's credentials blanked too, as the tap refuses credentials without ids.
SOURCES = {
    "customer_ids": ("username", "password"),
    "conversations_location_ids": ("conversations_api_key", "conversations_subdomain"),
    "interactly_integration_ids": ("interactly_api_key",),
}


class PracticesError(ValueError):
    """practices.yml cannot be used: one paragraph naming the file and the setting."""


class Practices(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    shards: int = pydantic.Field(ge=1)
    meltano_project: Path
    meltano: str = "meltano"
    environment: str | None = None
    extractor: str = "tap-liine"
    loader: str
    transform: str | None = None
    schedule: str = "0 3 * * *"
    timezone: str = "UTC"
    retries: int = pydantic.Field(default=2, ge=0)
    retry_delay_seconds: float = pydantic.Field(default=300, ge=0)
    customer_ids: list[pydantic.PositiveInt] = []
    conversations_location_ids: list[str] = []
    interactly_integration_ids: list[str] = []

    @pydantic.field_validator("schedule")
    @classmethod
    def _a_cron_dagster_accepts(cls, schedule: str) -> str:
        import dagster as dg  # only for a file that sets it: `dagster` takes seconds to import

        try:  # Dagster's own check, through its public API
            dg.ScheduleDefinition(name="check", cron_schedule=schedule, job_name="check")
        except dg.DagsterInvalidDefinitionError:
            msg = (
                f'"{schedule}" is not a cron expression Dagster accepts: minute (0-59), hour (0-23), day (1-31), '
                'month (1-12) and weekday (0-6), e.g. "0 3 * * *"'
            )
            raise ValueError(msg) from None
        return schedule

    @pydantic.field_validator("timezone")
    @classmethod
    def _a_known_timezone(cls, timezone: str) -> str:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            msg = f'"{timezone}" is not an IANA time zone (e.g. "UTC", "America/New_York")'
            raise ValueError(msg) from None
        return timezone

    @pydantic.model_validator(mode="after")
    def _ids_fill_every_shard(self) -> Practices:
        for name in SOURCES:
            values = getattr(self, name)
            repeated = sorted({str(v) for v in values if values.count(v) > 1})
            if repeated:
                msg = f"`{name}` lists {', '.join(repeated)} more than once (each id belongs to one shard)"
                raise ValueError(msg)
        longest = max(len(getattr(self, name)) for name in SOURCES)
        if longest < self.shards:
            msg = (
                f"`shards` is {self.shards} but the longest list of ids has {longest}: every shard needs at "
                "least one id to extract, so lower `shards` or list more ids"
            )
            raise ValueError(msg)
        return self

    def split(self) -> list[Shard]:
        """Shard n (from 1) takes every `shards`-th id of each list, starting with the n-th: ids appended
        at the end of a list never move the ones before them to another shard."""
        return [
            Shard(n + 1, {name: list(getattr(self, name)[n :: self.shards]) for name in SOURCES})
            for n in range(self.shards)
        ]

    def every_id(self) -> Shard:
        """All ids as one shard: the settings of the tables step, which reads no data."""
        return Shard(0, {name: list(getattr(self, name)) for name in SOURCES})


@dataclasses.dataclass(frozen=True)
class Shard:
    number: int
    ids: dict[str, list[t.Any]]

    @property
    def name(self) -> str:
        """Its `--state-id-suffix`: the state id is `<environment>:<extractor>-to-<loader>:shard-<n>`."""
        return f"shard-{self.number}"

    def env(self, extractor: str) -> dict[str, str]:
        """The extractor's settings for this shard, as Meltano reads them from the environment."""
        prefix = extractor.upper().replace("-", "_")
        env: dict[str, str] = {}
        for name, credentials in SOURCES.items():
            env[f"{prefix}_{name.upper()}"] = json.dumps(self.ids[name])
            if not self.ids[name]:
                env.update({f"{prefix}_{setting.upper()}": "" for setting in credentials})
        return env


def load(path: Path | None = None) -> Practices:
    """practices.yml (or the file LIINE_PRACTICES names), paths in it resolved against its folder."""
    path = path or Path(os.environ.get("LIINE_PRACTICES", DEFAULT_FILE))
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        msg = f"Cannot read the practices file {path}: {error}."
        raise PracticesError(msg) from None
    if not isinstance(raw, dict):
        held = "nothing" if raw is None else f"a {type(raw).__name__}"
        msg = f"The practices file {path} must hold settings (`shards`, `loader`, `customer_ids`, ...), not {held}."
        raise PracticesError(msg)
    try:
        practices = Practices.model_validate(raw)
    except pydantic.ValidationError as error:
        problems = "; ".join(map(_problem, error.errors(include_input=False)))
        msg = f"The practices file {path} is not valid: {problems}."
        raise PracticesError(msg) from None
    folder = path.resolve().parent
    meltano = practices.meltano
    if "/" in meltano:  # a path rather than a command on PATH
        meltano = str(folder / meltano)
    return practices.model_copy(update={"meltano_project": folder / practices.meltano_project, "meltano": meltano})


def _problem(error: pydantic_core.ErrorDetails) -> str:
    said = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:
        return said
    name = ".".join(map(str, error["loc"]))
    if error["type"] == "extra_forbidden":
        said += "".join(f" (did you mean `{m}`?)" for m in difflib.get_close_matches(name, Practices.model_fields, 1))
    return f"`{name}`: {said}"


def main() -> None:
    """Show the shards the practices file makes (their state id suffixes and ids), or what is wrong with it."""
    try:
        practices = load()
    except PracticesError as error:
        raise SystemExit(str(error)) from None
    try:
        print(json.dumps({shard.name: shard.ids for shard in practices.split()}, indent=2), flush=True)
    except BrokenPipeError:  # a reader that stops early (`| head`): quietly, exit 1
        # Python would fail again flushing stdout at exit: point it at nothing first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
