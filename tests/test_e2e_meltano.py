"""End to end through real Meltano, real targets from PyPI and real warehouses."""

from __future__ import annotations

import re
import typing as t
import uuid

import duckdb
import psycopg
import pytest
import requests

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.server import SandboxServer
from tap_liine.sandbox.truth import expected_rows
from tests import postgres
from tests.meltano_project import MELTANO, STREAMS, meltano_run, pg_env, tap_config

pytestmark = pytest.mark.e2e

if not MELTANO.exists():
    pytest.skip("Meltano is not installed: run `make install` (make test does)", allow_module_level=True)


@pytest.fixture
def server() -> t.Iterator[SandboxServer]:
    apis = [LiineApi(scale=4000), ConversationsApi(conversations_per_location=60), InteractlyApi(days=60)]
    with SandboxServer(apis) as running:
        yield running


def test_duckdb_lands_exactly_the_sandbox_truth(duckdb_loaded) -> None:
    server, warehouse = duckdb_loaded  # meltano run tap-liine target-duckdb, a full refresh
    expected = expected_rows(server.apis, tap_config())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        landed = {s: con.sql(f"select count(*) from liine.{s}").fetchone()[0] for s in STREAMS}  # type: ignore[index]
        distinct = con.sql("select count(distinct id) from liine.interactions").fetchone()[0]  # type: ignore[index]
    assert landed == expected
    assert distinct == expected["interactions"]


def _connect(pg: postgres.Postgres) -> psycopg.Connection:
    con = psycopg.connect(pg.dsn())
    con.execute("set time zone 'UTC'")
    return con


def _counts(pg: postgres.Postgres, schema: str) -> dict[str, int]:
    with _connect(pg) as con:
        return {s: con.execute(f"select count(*) from {schema}.{s}").fetchone()[0] for s in STREAMS}  # type: ignore[index]


def test_postgres_types_values_and_incremental_updates_in_place(server, postgres_loaded) -> None:
    pg = postgres_loaded[1]  # that PostgreSQL, a schema of its own; a sandbox of its own (it changes it)
    schema, state_id = "liine_labs", uuid.uuid4().hex
    meltano_run(server, "tap-liine", "target-postgres", env=pg_env(pg, schema), state_id=state_id)

    expected = expected_rows(server.apis, tap_config())
    assert _counts(pg, schema) == expected
    with _connect(pg) as con:
        columns = (
            "select column_name, data_type from information_schema.columns where table_schema = %s and table_name = %s"
        )
        types = dict(con.execute(columns, (schema, "interactions")).fetchall())
        # A timestamp, with or without zone as the target chooses (values are UTC).
        assert types["updated_at"].startswith("timestamp")
        assert types["start_time_tz"].startswith("timestamp")
        assert types["initial_session_extras"] == "jsonb"
        assert types["provider_names"] == "ARRAY"  # text[]; nested objects are jsonb
        assert types["id"] == "bigint"
        assert types["is_spam_likely"] == "boolean"
        some_id = con.execute(
            f"select id from {schema}.interactions where revenue is not null order by id limit 1"
        ).fetchone()[0]  # type: ignore[index]
        row = con.execute(
            f"select revenue::text, name, provider_names, to_char(updated_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
            f"from {schema}.interactions where id = %s",
            (some_id,),
        ).fetchone()  # fmt: skip
    source = requests.get(f"{server.url}/_sandbox/liine/record?id={some_id}", timeout=5).json()
    assert row is not None
    assert float(row[0]) == source["revenue"]
    assert row[1] == source["name"]
    assert row[2] == source["provider_names"]
    assert row[3] == source["updated_at"]

    # Change records at the source, then run again from Meltano's stored state.
    touched = requests.post(f"{server.url}/_sandbox/liine/touch", json={"ids": [some_id, 3, 2000]}, timeout=5).json()
    # New messages in two conversations the first run landed (one it had not would join: a new row).
    with _connect(pg) as con:
        landed = [i for (i,) in con.execute(f"select id from {schema}.conversations order by id")]
    wanted = {"conversation_ids": [landed[0], landed[-1]]}
    answer = requests.post(f"{server.url}/_sandbox/conversations/add-messages", json=wanted, timeout=5)
    added = answer.json()["message_ids"]
    assert len(added) == 2
    meltano_run(server, "tap-liine", "target-postgres", env=pg_env(pg, schema), state_id=state_id)

    after = _counts(pg, schema)
    assert after["interactions"] == expected["interactions"]  # updated in place, nothing duplicated
    assert after["conversation_messages"] == expected["conversation_messages"] + len(added)
    assert after["conversations"] == expected["conversations"]
    assert after["appointment_statistics"] == expected["appointment_statistics"]
    with _connect(pg) as con:
        changed = con.execute(
            f"select id, to_char(updated_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') from {schema}.interactions "
            "where id = any(%s)",
            ([some_id, 3, 2000],),
        ).fetchall()  # fmt: skip
        assert {i: u for i, u in changed} == dict.fromkeys([some_id, 3, 2000], touched["updated_at"])
        dupes = con.execute(f"select count(*) - count(distinct id) from {schema}.conversation_messages").fetchone()[0]  # type: ignore[index]
        assert dupes == 0


def test_an_independent_target_loads_the_same_rows(postgres_loaded) -> None:
    server, pg = postgres_loaded
    schema = "liine_pipelinewise"
    env = {
        "TARGET_POSTGRES_PIPELINEWISE_HOST": pg.host,
        "TARGET_POSTGRES_PIPELINEWISE_PORT": str(pg.port),
        "TARGET_POSTGRES_PIPELINEWISE_USER": pg.user,
        "TARGET_POSTGRES_PIPELINEWISE_PASSWORD": "unused-with-trust-auth",
        "TARGET_POSTGRES_PIPELINEWISE_DBNAME": pg.database,
        "TARGET_POSTGRES_PIPELINEWISE_DEFAULT_TARGET_SCHEMA": schema,
    }
    meltano_run(server, "tap-liine", "target-postgres-pipelinewise", env=env, state_id=uuid.uuid4().hex, full=True)
    assert _counts(pg, schema) == expected_rows(server.apis, tap_config())


KEYS = {"interactions": "id", "conversations": "id", "conversation_messages": "id",
        "appointment_statistics": "integration_id, appointment_type, date",
        "appointment_trends": "integration_id, appointment_type, date"}  # fmt: skip


def _rows(pg: postgres.Postgres, schema: str, stream: str) -> list[tuple]:
    """Every row of a table, every column but the loader's _sdc_ metadata, as text, in key order.

    Numerics without trailing zeros: COPY keeps a JSON `693.0` as numeric 693.0, INSERT makes
    it 693; the same number.
    """
    with _connect(pg) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = %s "
            "and table_name = %s and column_name not like '\\_sdc\\_%%' order by column_name", (schema, stream)
        ).fetchall()  # fmt: skip
        listed = ", ".join(f"trim_scale({c})::text" if kind == "numeric" else f"{c}::text" for c, kind in columns)
        return con.execute(f"select {listed} from {schema}.{stream} order by {KEYS[stream]}").fetchall()


def test_every_loading_mode_lands_identical_tables(postgres_loaded, tmp_path) -> None:
    """meltano.yml's fast defaults (postgres_loaded's schema liine), the target's own defaults
    and BATCH files (gzip'd or not) agree."""
    server, pg = postgres_loaded
    gzipped, plain = tmp_path / "gz", tmp_path / "plain"
    modes = {  # schema: (extractor, environment)
        "liine": ("tap-liine", {}),  # loaded by postgres_loaded
        "liine_slow": ("tap-liine", {"TARGET_POSTGRES_USE_COPY": "false", "TARGET_POSTGRES_VALIDATE_RECORDS": "true"}),
        "liine_batch_gz": ("tap-liine-batch", {"TAP_LIINE_BATCH_BATCH_CONFIG_STORAGE_ROOT": gzipped.as_uri()}),
        "liine_batch": ("tap-liine-batch", {"TAP_LIINE_BATCH_BATCH_CONFIG_STORAGE_ROOT": plain.as_uri(),
                                            "TAP_LIINE_BATCH_BATCH_CONFIG_ENCODING_COMPRESSION": "none"}),
    }  # fmt: skip
    for schema, (extractor, env) in list(modes.items())[1:]:
        meltano_run(server, extractor, "target-postgres", env={**pg_env(pg, schema), **env}, state_id=uuid.uuid4().hex)

    # BATCH messages were sent: files for every stream with records, as announced.
    expected = expected_rows(server.apis, tap_config())
    in_files = {re.search(r"--(\w+)-", p.name)[1] for p in gzipped.iterdir()}  # type: ignore[index]
    assert in_files == {s for s in STREAMS if expected[s]} and len(in_files) >= 4
    assert {p.suffix for p in gzipped.iterdir()} == {".gz"} and {p.suffix for p in plain.iterdir()} == {".jsonl"}
    for schema in modes:
        assert _counts(pg, schema) == expected, schema
    for stream in STREAMS:
        fast = _rows(pg, "liine", stream)
        for schema in modes:
            assert _rows(pg, schema, stream) == fast, (schema, stream)
