"""This repository's Meltano project, driven as users drive it: `meltano run` / `meltano invoke`."""

from __future__ import annotations

import os
import subprocess
import typing as t
from pathlib import Path

import yaml

from tap_liine.sandbox.server import SandboxServer
from tests import postgres

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
STREAMS = ("interactions", "conversations", "conversation_messages", "appointment_statistics", "appointment_trends")
START_DATE = "2026-06-01T00:00:00Z"


def tap_config() -> dict[str, t.Any]:
    """The sandbox environment's tap-liine config (meltano.yml), from START_DATE."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    env = next(e for e in project["environments"] if e["name"] == "sandbox")
    return {**env["config"]["plugins"]["extractors"][0]["config"], "start_date": START_DATE}


def meltano(*args: str, env: dict[str, str], server: SandboxServer | None = None) -> str:
    """Run `meltano <args>` in the project (the tap pointed at `server`); its log, or fail with it."""
    environment = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", **env)
    if server is not None:
        for setting in ("API_URL", "CONVERSATIONS_API_URL", "INTERACTLY_API_URL"):
            environment[f"TAP_LIINE_{setting}"] = server.url
        environment["TAP_LIINE_START_DATE"] = START_DATE
    done = subprocess.run([str(MELTANO), *args], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    return done.stderr


def meltano_run(server: SandboxServer, *plugins: str, env: dict[str, str], state_id: str, full: bool = False) -> str:
    return meltano("run", "--state-id-suffix", state_id, *(["--full-refresh"] if full else []), *plugins,
                   env=env, server=server)  # fmt: skip


def pg_env(pg: postgres.Postgres, schema: str) -> dict[str, str]:
    """target-postgres settings for this server and schema."""
    return {
        "TARGET_POSTGRES_HOST": pg.host,
        "TARGET_POSTGRES_PORT": str(pg.port),
        "TARGET_POSTGRES_USER": pg.user,
        "TARGET_POSTGRES_PASSWORD": "unused-with-trust-auth",  # the target insists on one
        "TARGET_POSTGRES_DATABASE": pg.database,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }
