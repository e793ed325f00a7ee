"""Running Meltano for a shard: `meltano <args>` in the project, each shard in a run folder of its own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import dagster as dg

from liine_orchestrate.practices import Practices


def meltano(practices: Practices, *args: str, env: dict[str, str]) -> None:
    """Run `meltano <args>` in the project; its log goes to the step's stderr, as Meltano writes it."""
    environment = ["--environment", practices.environment] if practices.environment else []
    done = subprocess.run([practices.meltano, *environment, *args], cwd=practices.meltano_project,
                          env={**os.environ, **env}, check=False)  # fmt: skip
    if done.returncode:
        # Meltano has kept the state of every stream and partition that landed: a retry resumes there.
        msg = f"`meltano {' '.join(args)}` ended with exit code {done.returncode}; its log is in this step's stderr."
        raise dg.Failure(msg)


def shard_home(project: Path, shard: str) -> Path:
    """`.meltano/shards/<shard>`, the shard's MELTANO_SYS_DIR_ROOT: the project's `.meltano` with a `run`
    folder of its own.

    Meltano writes an extractor's catalog to `.meltano/run/<extractor>/tap.properties.json`, one file for
    every run of that extractor in the project: runs at once overwrite and delete each other's ("Invalid
    catalog"). Everything else links to the shared entry: the installed plugins and the system database
    (which holds the state unless a state backend is set).
    """
    shared = Path(os.environ.get("MELTANO_SYS_DIR_ROOT", project / ".meltano"))
    home = shared / "shards" / shard
    home.mkdir(parents=True, exist_ok=True)
    names = {entry.name for entry in shared.iterdir()} | {"meltano.db"}  # the database may not exist yet
    for name in sorted(names - {"run", "shards"}):
        link = home / name
        if not link.is_symlink():
            link.symlink_to(shared / name)
    return home
