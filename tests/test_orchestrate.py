"""orchestrate/ (Dagster) end to end: three shards side by side into one real PostgreSQL.

`dagster job execute` runs the job in its own process, without a daemon, each shard's
`meltano run` in a step process of Dagster's multiprocess executor, against the sandbox.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import typing as t
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests
import yaml

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.server import SandboxServer
from tap_liine.sandbox.truth import expected_rows
from tests import postgres
from tests.meltano_project import MELTANO, ROOT, START_DATE, STREAMS, pg_env, tap_config

pytestmark = pytest.mark.e2e

DAGSTER = ROOT / ".venv-dagster" / "bin" / "dagster"
if not (MELTANO.exists() and DAGSTER.exists()):
    pytest.skip("Meltano or Dagster is not installed: run `make install` (make test does)", allow_module_level=True)

SCHEMA = "liine"  # the dbt project reads this schema
STATE_IDS = [f"prod:tap-liine-to-target-postgres:shard-{n}" for n in (1, 2, 3)]
# The sandbox's demo credentials, as production ones are given: variables over the `prod`
# environment (the `sandbox` environment's own `env:` would override a shard's blanked ones).
CREDENTIALS = {"TAP_LIINE_USERNAME": "demo", "TAP_LIINE_PASSWORD": "demo-password",
               "TAP_LIINE_CONVERSATIONS_API_KEY": "demo-conversations-key",
               "TAP_LIINE_CONVERSATIONS_SUBDOMAIN": "bright-smiles",
               "TAP_LIINE_INTERACTLY_API_KEY": "demo-interactly-key"}  # fmt: skip
KEYS = {"interactions": "id", "conversations": "id", "conversation_messages": "id",
        "appointment_statistics": "integration_id, appointment_type, date",
        "appointment_trends": "integration_id, appointment_type, date"}  # fmt: skip


@pytest.fixture
def server() -> t.Iterator[SandboxServer]:
    apis = [LiineApi(scale=600), ConversationsApi(conversations_per_location=20), InteractlyApi(days=20)]
    with SandboxServer(apis) as running:
        yield running


def _practices(tmp_path: Path, transform: str | None) -> Path:
    """orchestrate/practices.yml as shipped, pointed at this repository, retrying at once."""
    practices = yaml.safe_load((ROOT / "orchestrate" / "practices.yml").read_text())
    practices.update(shards=3, meltano_project=str(ROOT), meltano=str(MELTANO), environment="prod",
                     transform=transform, retries=1, retry_delay_seconds=0)  # fmt: skip
    path = tmp_path / f"practices-{transform}.yml"
    path.write_text(yaml.safe_dump(practices))
    return path


def _sync(tmp_path: Path, server: SandboxServer, pg: postgres.Postgres, *, transform: str | None) -> list[str]:
    """Run the job; the steps' starts and successes, in the order Dagster logged them."""
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "LIINE_PRACTICES": str(_practices(tmp_path, transform)),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        # This test's own state, in files (as a shared bucket would hold it for a cluster).
        "MELTANO_STATE_BACKEND_URI": (tmp_path / "state").as_uri(),
        "TAP_LIINE_START_DATE": START_DATE,
        **CREDENTIALS,
        **{f"TAP_LIINE_{api}": server.url for api in ("API_URL", "CONVERSATIONS_API_URL", "INTERACTLY_API_URL")},
        **pg_env(pg, SCHEMA),
        **{f"DBT_POSTGRES_{name.upper()}": str(getattr(pg, name)) for name in ("host", "port", "user")},
        "DBT_POSTGRES_DBNAME": pg.database,
        "DBT_POSTGRES_SCHEMA": "analytics",
    }
    command = [str(DAGSTER), "job", "execute", "-d", str(ROOT / "orchestrate"), "-m", "liine_orchestrate.definitions",
               "-j", "liine_sync"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-8000:]
    return re.findall(r'- (STEP_START|STEP_SUCCESS) - .*? step "(\w+)"', done.stdout + done.stderr)


def _states(tmp_path: Path) -> dict[str, dict[str, t.Any]]:
    env = {**os.environ, "MELTANO_STATE_BACKEND_URI": (tmp_path / "state").as_uri()}
    listed = subprocess.run([str(MELTANO), "--environment", "prod", "state", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return {state_id: _state(tmp_path, state_id) for state_id in listed.stdout.split()}


def _state(tmp_path: Path, state_id: str) -> dict[str, t.Any]:
    return json.loads((tmp_path / "state" / state_id / "state.json").read_text())["completed"]["singer_state"]


def _partitions(state: dict[str, t.Any], stream: str) -> list[dict[str, t.Any]]:
    return [p["context"] for p in state["bookmarks"].get(stream, {}).get("partitions", [])]


def _bookmark(state: dict[str, t.Any], stream: str) -> str:
    return state["bookmarks"][stream]["partitions"][0]["replication_key_value"]


def _day_before(instant: str) -> str:
    return (dt.date.fromisoformat(instant[:10]) - dt.timedelta(days=1)).isoformat()


def _api_requests(server: SandboxServer) -> list[str]:
    return [path for _, path in server.request_log if "authenticate" not in path]


def _scope(path: str) -> str:
    """The customer, location or integration a request reads."""
    query = parse_qs(urlsplit(path).query)
    for name in ("customer_id", "location_id"):
        if name in query:
            return query[name][0]
    return urlsplit(path).path.split("/resource-records/")[-1].split("/")[0]


def _count(con: psycopg.Connection, table: str) -> int:
    return con.execute(f"select count(*) from {table}").fetchone()[0]  # type: ignore[index]


def _connect(pg: postgres.Postgres) -> psycopg.Connection:
    con = psycopg.connect(pg.dsn())
    con.execute("set time zone 'UTC'")
    return con


def test_three_shards_land_the_truth_once_each_with_its_own_resumable_state(server, pg, tmp_path) -> None:
    truth = expected_rows(server.apis, tap_config())
    liine = server.apis[0]
    # Customer 202 (shard 2) is refused once, for good: that run of shard 2 fails, Dagster retries it.
    requests.post(f"{server.url}/_sandbox/force", json={"contains": "customer_id=202", "status": 403}, timeout=5)

    steps = _sync(tmp_path, server, pg, transform="dbt-postgres:build")

    # The tables were created before any shard started: shards creating one table at once fail.
    assert steps[:2] == [("STEP_START", "liine_tables"), ("STEP_SUCCESS", "liine_tables")], steps
    assert {name for _, name in steps} == {"liine_tables", "liine_shard_1", "liine_shard_2", "liine_shard_3",
                                           "liine_transform"}  # fmt: skip

    # The union of the shards is the sandbox's truth, every row once.
    with _connect(pg) as con:
        for stream in STREAMS:
            count, distinct = con.execute(
                f"select count(*), count(distinct ({KEYS[stream]})) from {SCHEMA}.{stream}"
            ).fetchone()  # type: ignore[misc]
            assert (count, distinct) == (truth[stream], truth[stream]), stream
        ids = [i for (i,) in con.execute(f"select id from {SCHEMA}.interactions order by id")]
        assert ids == sorted(liine.expected_ids([101, 202, 303], dt.date.fromisoformat(START_DATE[:10])))
        # The dbt build ran once all shards had landed: its staging views see every row.
        built = {s: _count(con, f"analytics_staging.stg_liine__{s}") for s in STREAMS}
        assert built == truth

    # Each shard's state is its own: its state id, its partitions only.
    states = _states(tmp_path)
    assert sorted(states) == STATE_IDS
    assert [_partitions(states[i], "interactions") for i in STATE_IDS] == [
        [{"customer_id": 101}], [{"customer_id": 202}], [{"customer_id": 303}]]  # fmt: skip
    assert [_partitions(states[i], "conversations") for i in STATE_IDS] == [
        [{"location_id": "3001"}], [{"location_id": "3002"}], []]  # fmt: skip
    assert [_partitions(states[i], "appointment_statistics") for i in STATE_IDS] == [
        [{"integration_id": "5eb7cf5a86d9755df3a6c593", "appointment_type": "all"}],
        [{"integration_id": "65a1b2c3d4e5f60718293a4b", "appointment_type": "all"}], []]  # fmt: skip

    # Only shard 2 ran twice: nothing of shards 1 and 3 was read twice.
    sent = _api_requests(server)
    refused = next(p for p in sent if "customer_id=202" in p)
    repeated = {p for p in sent if sent.count(p) > 1}
    assert refused in repeated
    assert {_scope(p) for p in repeated} <= {"202", "3002", "65a1b2c3d4e5f60718293a4b"}
    assert {_scope(p) for p in sent} == {"101", "202", "303", "3001", "3002", "5eb7cf5a86d9755df3a6c593",
                                         "65a1b2c3d4e5f60718293a4b"}  # fmt: skip

    # A rerun is incremental per shard: each reads from its own bookmarks, and lands the changes.
    landed_101 = sorted(set(ids) & {row.id for row in liine.by_customer[101]})
    touched = requests.post(f"{server.url}/_sandbox/liine/touch", json={"ids": landed_101[:1]}, timeout=5).json()
    server.request_log.clear()
    _sync(tmp_path, server, pg, transform=None)

    # Each customer's requests start from its own shard's bookmark, less the lookback day.
    rerun = [parse_qs(urlsplit(p).query) for p in _api_requests(server) if "/interactions" in p]
    since = {(q["customer_id"][0], q["updated_date"][0]) for q in rerun}
    assert since == {(str(customer), _day_before(_bookmark(states[state_id], "interactions")))
                     for customer, state_id in zip((101, 202, 303), STATE_IDS, strict=True)}  # fmt: skip
    after = _states(tmp_path)
    assert sorted(after) == STATE_IDS
    assert _bookmark(after[STATE_IDS[0]], "interactions") == touched["updated_at"]
    for state_id in STATE_IDS[1:]:
        assert after[state_id]["bookmarks"]["interactions"] == states[state_id]["bookmarks"]["interactions"]
    with _connect(pg) as con:
        count, distinct = con.execute(f"select count(*), count(distinct id) from {SCHEMA}.interactions").fetchone()  # type: ignore[misc]
        assert (count, distinct) == (truth["interactions"], truth["interactions"])


def test_meltano_sees_the_shell_and_its_project_not_the_env_file_of_the_folder_dagster_starts_in(tmp_path) -> None:
    """Dagster's CLI loads the `.env` of its working folder over the shell's variables; `meltano` must
    see the shell's values, then its own project's `.env` (here: `meltano config` of a loader)."""
    project, start = tmp_path / "project", tmp_path / "start"
    project.mkdir()
    start.mkdir()
    loader = {"name": "target-x", "namespace": "target_x", "pip_url": "target-x",
              "settings": [{"name": "database"}, {"name": "password", "kind": "password"}]}  # fmt: skip
    (project / "meltano.yml").write_text(yaml.safe_dump({"plugins": {"loaders": [loader]}}))
    (project / ".env").write_text("TARGET_X_DATABASE=analytics\nTARGET_X_PASSWORD=project-password\n")
    (start / ".env").write_text("TARGET_X_DATABASE=agency\nTARGET_X_PASSWORD=dotenv-password\n")
    # The transform step's `meltano invoke x`, as `meltano config print target-x` (which needs no installed plugin).
    config = tmp_path / "config.json"
    wrapper = tmp_path / "meltano"
    wrapper.write_text(f"#!/bin/sh\nexec {MELTANO} config --unsafe print target-x > {config}\n")
    wrapper.chmod(0o700)
    practices = tmp_path / "practices.yml"
    practices.write_text(yaml.safe_dump({"shards": 1, "meltano_project": str(project), "meltano": str(wrapper),
                                         "loader": "target-x", "transform": "x", "customer_ids": [1]}))  # fmt: skip
    (tmp_path / "dagster").mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "LIINE_PRACTICES": str(practices),
           "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "TARGET_X_PASSWORD": "shell-password"}  # fmt: skip
    command = [str(DAGSTER), "job", "execute", "-d", str(ROOT / "orchestrate"), "-m", "liine_orchestrate.definitions",
               "-j", "liine_sync", "-o", "liine_transform"]  # fmt: skip
    done = subprocess.run(command, cwd=start, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-8000:]

    assert json.loads(config.read_text()) == {"database": "analytics", "password": "shell-password"}


def _split(tmp_path: Path, **settings: t.Any) -> subprocess.CompletedProcess[str]:
    """`python -m liine_orchestrate.practices` (what users run to see the split) on these settings."""
    path = tmp_path / "practices.yml"
    path.write_text(yaml.safe_dump({"meltano_project": str(ROOT), "loader": "target-postgres", **settings}))
    return subprocess.run([str(DAGSTER.parent / "python"), "-m", "liine_orchestrate.practices"],
                          cwd=ROOT / "orchestrate", env={**os.environ, "LIINE_PRACTICES": str(path)},
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_ids_appended_at_the_end_keep_every_shard_as_it_was(tmp_path) -> None:
    before = _split(tmp_path, shards=3, customer_ids=[7, 3, 9, 1, 5], conversations_location_ids=["a", "b"])
    assert json.loads(before.stdout) == {
        "shard-1": {"customer_ids": [7, 1], "conversations_location_ids": ["a"], "interactly_integration_ids": []},
        "shard-2": {"customer_ids": [3, 5], "conversations_location_ids": ["b"], "interactly_integration_ids": []},
        "shard-3": {"customer_ids": [9], "conversations_location_ids": [], "interactly_integration_ids": []},
    }
    after = _split(tmp_path, shards=3, customer_ids=[7, 3, 9, 1, 5, 2, 8], conversations_location_ids=["a", "b"])
    assert {n: s["customer_ids"] for n, s in json.loads(after.stdout).items()} == {
        "shard-1": [7, 1, 8], "shard-2": [3, 5], "shard-3": [9, 2]}  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        (
            {"shards": 2, "customer_ids": [101, 202, 101]},
            "`customer_ids` lists 101 more than once (each id belongs to one shard)",
        ),
        (
            {"shards": 4, "customer_ids": [101, 202, 303]},
            "`shards` is 4 but the longest list of ids has 3: every "
            "shard needs at least one id to extract, so lower `shards` or list more ids",
        ),
        (
            {"shard": 2, "customer_ids": [101]},
            "`shards`: Field required; `shard`: Extra inputs are not permitted (did you mean `shards`?)",
        ),
        (
            {"shards": 1, "customer_ids": [101], "retry_delay_secs": 60},
            "`retry_delay_secs`: Extra inputs are not permitted (did you mean `retry_delay_seconds`?)",
        ),
        ({"shards": 1, "customer_ids": [101], "colour": "red"}, "`colour`: Extra inputs are not permitted"),
        (
            {"shards": 1, "customer_ids": [101], "schedule": "0 25 * * *"},
            '`schedule`: "0 25 * * *" is not a cron expression Dagster accepts: minute (0-59), hour (0-23), '
            'day (1-31), month (1-12) and weekday (0-6), e.g. "0 3 * * *"',
        ),
        (
            {"shards": 1, "customer_ids": [101], "timezone": "Mars/Olympus"},
            '`timezone`: "Mars/Olympus" is not an IANA time zone (e.g. "UTC", "America/New_York")',
        ),
        ({"shards": 0, "customer_ids": [101]}, "`shards`: Input should be greater than or equal to 1"),
    ],
)
def test_a_wrong_practices_file_is_one_sentence_naming_the_setting(tmp_path, settings, said) -> None:
    done = _split(tmp_path, **settings)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr == f"The practices file {tmp_path / 'practices.yml'} is not valid: {said}.\n"


def test_shards_printed_to_a_reader_that_stops_early_end_quietly(tmp_path) -> None:
    path = tmp_path / "practices.yml"
    path.write_text(
        yaml.safe_dump({"meltano_project": str(ROOT), "loader": "target-postgres", "shards": 1, "customer_ids": [1]})
    )
    listing = subprocess.Popen([str(DAGSTER.parent / "python"), "-m", "liine_orchestrate.practices"],
                               cwd=ROOT / "orchestrate", env={**os.environ, "LIINE_PRACTICES": str(path)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.close()  # as `| head` does once it has read enough: the shards go nowhere

    assert listing.stderr.read() == ""
    assert listing.wait(timeout=60) == 1
