"""Dagster definitions: the loader's tables first, then one asset per shard (`meltano run` with the
shard's ids and state), the dbt build once every shard has landed, a job running the shards side by
side, and its schedule."""

from __future__ import annotations

import dagster as dg

from liine_orchestrate.environment import record_shell
from liine_orchestrate.meltano import create_tables, meltano, shard_home
from liine_orchestrate.practices import Practices, Shard, load

GROUP = "liine"


def _retries(practices: Practices) -> dg.RetryPolicy:
    """A failed step is run again, alone, `retries` times, `retry_delay_seconds` apart."""
    return dg.RetryPolicy(max_retries=practices.retries, delay=practices.retry_delay_seconds)


def tables_asset(practices: Practices) -> dg.AssetsDefinition:
    @dg.asset(
        name="liine_tables",
        group_name=GROUP,
        kinds={"meltano"},
        description=f"The tables {practices.loader} fills, created or widened before the shards load side by side.",
        retry_policy=_retries(practices),
    )
    def tables() -> None:
        create_tables(practices, env=practices.every_id().env(practices.extractor))

    return tables


def shard_asset(practices: Practices, shard: Shard, tables: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"liine_{shard.name.replace('-', '_')}",
        group_name=GROUP,
        kinds={"meltano"},
        description=f"{practices.extractor} -> {practices.loader} for the ids of {shard.name}.",
        deps=[tables],
        retry_policy=_retries(practices),
        metadata={"state_id_suffix": shard.name, **{name: str(ids) for name, ids in shard.ids.items()}},
    )
    def sync() -> None:
        home = shard_home(practices.meltano_project, shard.name)
        env = {**shard.env(practices.extractor), "MELTANO_SYS_DIR_ROOT": str(home)}
        meltano(practices, "run", "--state-id-suffix", shard.name, practices.extractor, practices.loader, env=env)

    return sync


def transform_asset(practices: Practices, transform: str, shards: list[dg.AssetsDefinition]) -> dg.AssetsDefinition:
    @dg.asset(
        name="liine_transform",
        group_name=GROUP,
        kinds={"dbt"},
        description=f"`meltano invoke {transform}`, once every shard has landed.",
        deps=shards,
    )
    def build() -> None:
        meltano(practices, "invoke", transform, env={})

    return build


def definitions(practices: Practices) -> dg.Definitions:
    tables = tables_asset(practices)
    shards = [shard_asset(practices, shard, tables) for shard in practices.split()]
    transform = [transform_asset(practices, practices.transform, shards)] if practices.transform else []
    job = dg.define_asset_job(
        "liine_sync",
        selection=dg.AssetSelection.groups(GROUP),
        executor_def=dg.multiprocess_executor.configured({"max_concurrent": practices.shards}),
    )
    schedule = dg.ScheduleDefinition(job=job, cron_schedule=practices.schedule, execution_timezone=practices.timezone)
    return dg.Definitions(assets=[tables, *shards, *transform], jobs=[job], schedules=[schedule])


record_shell()  # before any step process starts: they inherit it
defs = definitions(load())
