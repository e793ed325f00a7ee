"""Running Meltano for a shard: `meltano <args>` in the project, each shard in a run folder of its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagster as dg

from liine_orchestrate.environment import meltano_environ
from liine_orchestrate.practices import Practices


def meltano(practices: Practices, *args: str, env: dict[str, str]) -> None:
    """Run `meltano <args>` in the project; its log goes to the step's stderr, as Meltano writes it."""
    done = subprocess.run(_command(practices, *args), cwd=practices.meltano_project, env=meltano_environ(env),
                          check=False)  # fmt: skip
    if done.returncode:
        # Meltano has kept the state of every stream and partition that landed: a retry resumes there.
        raise _failure(args, done.returncode)


def create_tables(practices: Practices, *, env: dict[str, str]) -> None:
    """`meltano invoke <extractor> --test=schema | meltano invoke <loader>`: the loader creates (or widens)
    every table a run fills, from the SCHEMA messages a run writes (selection and stream maps applied),
    and nothing else is read or written. Shards that create one table at the same moment fail
    (target-postgres: "relation ... already exists"), so this runs before them."""
    schemas = ("invoke", practices.extractor, "--test=schema")
    cwd, environ = practices.meltano_project, meltano_environ(env)
    with subprocess.Popen(_command(practices, *schemas), cwd=cwd, env=environ, stdout=subprocess.PIPE) as tap:
        loaded = subprocess.run(_command(practices, "invoke", practices.loader), cwd=cwd, env=environ,
                                stdin=tap.stdout, check=False)  # fmt: skip
    if loaded.returncode:  # first: a loader that stopped reading also ends the extractor (broken pipe)
        raise _failure(("invoke", practices.loader), loaded.returncode)
    if tap.returncode:
        raise _failure(schemas, tap.returncode)


def _command(practices: Practices, *args: str) -> list[str]:
    environment = ["--environment", practices.environment] if practices.environment else []
    return [practices.meltano, *environment, *args]


def _failure(args: tuple[str, ...], code: int) -> dg.Failure:
    return dg.Failure(f"`meltano {' '.join(args)}` ended with exit code {code}; its log is in this step's stderr.")


def shard_home(project: Path, shard: str) -> Path:
    """`.meltano/shards/<shard>`, the shard's MELTANO_SYS_DIR_ROOT: the project's `.meltano` with a `run`
    folder of its own.

    Meltano writes an extractor's catalog to `.meltano/run/<extractor>/tap.properties.json`, one file for
    every run of that extractor in the project: runs at once overwrite and delete each other's ("Invalid
    catalog"). Everything else links to the shared entry: the installed plugins and the system database
    (which holds the state unless a state backend is set).
    """
    shared = Path(meltano_environ({}).get("MELTANO_SYS_DIR_ROOT", project / ".meltano"))
    home = shared / "shards" / shard
    home.mkdir(parents=True, exist_ok=True)
    names = {entry.name for entry in shared.iterdir()} | {"meltano.db"}  # the database may not exist yet
    for name in sorted(names - {"run", "shards"}):
        link = home / name
        if not link.is_symlink():
            link.symlink_to(shared / name)
    return home
