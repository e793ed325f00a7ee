"""The environment `meltano` runs in: the shell's, without what Dagster loaded from a `.env`.

Dagster's CLI (`dagster job execute`, `dagster dev`, ...) reads the `.env` of the folder it is started
in into its environment, over the shell's variables (dagster._cli.utils._inject_local_env_file), and
its step processes inherit that. Variables beat a Meltano project's `.env`, so that file would decide
the database and credentials of every shard. Meltano reads the project's own `.env` itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

# The shell's values of the variables Dagster's `.env` overwrote, for the step processes to inherit.
SHELL = "LIINE_ORCHESTRATE_SHELL_VALUES"


def dagster_dotenv() -> dict[str, str]:
    """The variables Dagster loaded: those of the `.env` in the working folder, as Dagster reads it."""
    path = Path.cwd() / ".env"
    return {key: value for key, value in dotenv_values(path).items() if value is not None} if path.is_file() else {}


def record_shell() -> None:
    """Keep the shell's values of the variables Dagster's `.env` overwrote, once, in the first process
    that loads the definitions; its step processes inherit them. `/proc/self/environ` is this process's
    environment as it started, before Dagster changed `os.environ` (which Python changes in place).
    Without it (not Linux), or in a process started with Dagster's values (`dagster dev`'s code server),
    a variable the shell set is not told from Dagster's: each that holds the `.env`'s value is unset."""
    if SHELL in os.environ:
        return
    started = _started()
    loaded = dagster_dotenv()
    os.environ[SHELL] = json.dumps(
        {key: started[key] for key in loaded if started.get(key, loaded[key]) != loaded[key]}
    )


def _started() -> dict[str, str]:
    try:
        entries = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:
        return {}
    return dict(os.fsdecode(entry).partition("=")[::2] for entry in entries if b"=" in entry)


def without_dotenv(environ: Mapping[str, str], loaded: Mapping[str, str], shell: Mapping[str, str]) -> dict[str, str]:
    """`environ` with each variable that holds the value `loaded` gave it back to the shell's, or unset."""
    env = {key: value for key, value in environ.items() if key != SHELL and loaded.get(key) != value}
    return {**env, **{key: shell[key] for key in loaded if key in shell and environ.get(key) == loaded[key]}}


def meltano_environ(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without Dagster's `.env`, then `overrides` (a shard's settings)."""
    shell = json.loads(os.environ.get(SHELL, "{}"))
    return {**without_dotenv(os.environ, dagster_dotenv(), shell), **overrides}
