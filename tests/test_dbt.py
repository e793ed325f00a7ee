"""transform/ (the dbt project) on real warehouses: every mart equals the truth computed in Python.

The sandbox is loaded with `meltano run tap-liine target-duckdb` and `... target-postgres`
(a real PostgreSQL in America/New_York), the project is built with `meltano invoke
dbt-duckdb build` / `dbt-postgres build` (dbt's data tests included), and each mart is
compared row for row with tests/mart_truth.py, which reads the sandbox's own data.
Then, on the same loaded rows, every subset of the three sources and every documented
spelling of the categories is built again (tests/dbt_runs.py: one dbt process per warehouse).
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import json
import os
import re
import shutil
import subprocess
import typing as t
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest
import yaml

from tap_liine.sandbox.server import SandboxServer
from tests import mart_truth, postgres
from tests.meltano_project import MELTANO, ROOT, meltano, meltano_run, pg_env, tap_config

pytestmark = pytest.mark.e2e

if not MELTANO.exists():
    pytest.skip("Meltano is not installed: run `make install` (make test does)", allow_module_level=True)

MARTS = {  # mart: its grain
    "lead_funnel": ("activity_date", "attribution", "location", "marketing_channel"),
    "call_handling": ("call_date", "location", "agent", "hour_of_day"),
    "patient_response_times": ("conversation_id",),
    "patient_response_times_daily": ("first_message_date", "location_id"),
    "appointments_daily": ("integration_id", "appointment_type", "appointment_date"),
}
Marts = dict[str, mart_truth.Rows]
SOURCES = {  # source: its tables, its marts
    "liine": (("interactions",), ("lead_funnel", "call_handling")),
    "conversations": (
        ("conversations", "conversation_messages"),
        ("patient_response_times", "patient_response_times_daily"),
    ),
    "interactly": (("appointment_statistics", "appointment_trends"), ("appointments_daily",)),
}
TABLES = [table for tables, _ in SOURCES.values() for table in tables]
ZONES = {"duckdb": "America/New_York", "postgres": "America/Los_Angeles"}  # the default; another one


def _plain(value: t.Any) -> t.Any:
    """Comparable across warehouses and Python: numbers to 3 decimals, instants naive UTC."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, (float, decimal.Decimal)):
        return int(value) if value == int(value) else round(float(value), 3)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _keyed(columns: list[str], rows: t.Iterable[tuple[t.Any, ...]], grain: tuple[str, ...]) -> mart_truth.Rows:
    out: mart_truth.Rows = {}
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        key = tuple(_plain(values.pop(c)) for c in grain)
        out[key] = {c: _plain(v) for c, v in values.items()}
    return out


def truth(apis: list[t.Any], zone: str) -> Marts:
    liine, conversations, interactly = apis
    config = tap_config()
    records = mart_truth.interactions(liine, config)
    per_conversation = mart_truth.patient_response_times(conversations, config)
    marts = {
        "lead_funnel": mart_truth.lead_funnel(records, zone),
        "call_handling": mart_truth.call_handling(records, zone),
        "patient_response_times": per_conversation,
        "patient_response_times_daily": mart_truth.patient_response_times_daily(per_conversation, zone),
        "appointments_daily": mart_truth.appointments_daily(interactly, config),
    }
    return {
        name: {key: {c: _plain(v) for c, v in row.items()} for key, row in rows.items()} for name, rows in marts.items()
    }


def _read(query: t.Callable[[str], tuple[list[str], list[tuple[t.Any, ...]]]], schema: str) -> Marts:
    """The marts in `schema` ({} for a mart that is not there)."""
    marts = {}
    for mart, grain in MARTS.items():
        found = query(f"select table_name from information_schema.tables where table_schema = '{schema}' "
                      f"and table_name = '{mart}'")[1]  # fmt: skip
        if found:
            marts[mart] = _keyed(*query(f"select * from {schema}.{mart}"), grain)
    return marts


def _duckdb_query(path: Path) -> t.Callable[[str], tuple[list[str], list[tuple[t.Any, ...]]]]:
    def query(sql: str) -> tuple[list[str], list[tuple[t.Any, ...]]]:
        with duckdb.connect(str(path), read_only=True) as con:
            result = con.sql(sql)
            return result.columns, result.fetchall()

    return query


def _postgres_query(pg: postgres.Postgres) -> t.Callable[[str], tuple[list[str], list[tuple[t.Any, ...]]]]:
    def query(sql: str) -> tuple[list[str], list[tuple[t.Any, ...]]]:
        with psycopg.connect(pg.dsn()) as con:
            cursor = con.execute(sql)
            return [d.name for d in cursor.description or []], cursor.fetchall()

    return query


# Every documented spelling, and other cases, of the categories the marts read. "any case"
# also names a staff sender type nobody documented: each field's accepted_values test warns.
SPELLINGS = {
    "Answered / Not Answered": {"interactions": {"status": {"Connected": "Answered", "Not Connected": "Not Answered"}}},
    "Complete": {"interactions": {"status": {"Connected": "Complete"}}},
    "any case": {
        "interactions": {
            "status": {"Connected": "CONNECTED", "Not Connected": " not answered"},
            "outcome": {"Booked": "BOOKED", "Booked Later": "booked later", "Not Booked": "Not booked"},
            "appointment_status": {"Attended": "attended", "Canceled / No Show": "CANCELED / NO SHOW"},
            "direction": {"inbound": "Inbound"},
            "interaction_type": {"call": "Call"},
        },
        "conversation_messages": {"sender_info": {'"Patient"': '"PATIENT"', '"User"': '"Hygienist"'}},
    },
    # The shape the conversations document's sample shows: each sender field as {"value": ...}.
    "wrapped sender_info": {
        "conversation_messages": {"sender_info": {'"Patient"': '{"value": "Patient"}', '"User"': '{"value": "User"}'}}
    },
}
SUBSET_SPELLINGS = {
    ("liine",): "Answered / Not Answered",
    ("liine", "interactly"): "Complete",
    ("liine", "conversations"): "any case",
    ("conversations",): "any case",
    ("conversations", "interactly"): "wrapped sender_info",
}
WARNED = {  # the accepted_values tests that "any case" makes warn, by source
    "liine": ["interaction_type", "direction", "connection_status", "outcome", "appointment_status"],
    "conversations": ["sender_type"],
}


def _respell(table: str, spelling: str, json_type: str) -> list[str]:
    statements = []
    for column, renames in SPELLINGS[spelling].get(table, {}).items():
        if column == "sender_info":  # a JSON object: its meta_type values
            text = "cast(sender_info as varchar)"
            for old, new in renames.items():
                text = f"replace({text}, '{old}', '{new}')"
            statements.append(f"update liine.{table} set sender_info = cast({text} as {json_type})")
            continue
        cases = " ".join(f"when '{old}' then '{new}'" for old, new in renames.items())
        statements.append(f"update liine.{table} set {column} = case {column} {cases} else {column} end")
    return statements


def _subset_steps(json_type: str, with_vars: bool) -> list[dict[str, t.Any]]:
    """One dbt build per subset of the sources (the full set is the main build), its tables
    copied from `raw`; those with Liine or conversations under another spelling."""
    steps: list[dict[str, t.Any]] = []
    subsets = [s for n in range(3) for s in itertools.combinations(SOURCES, n)]
    plan = [(subset, SUBSET_SPELLINGS.get(subset), {}) for subset in subsets]
    if with_vars:  # switched off: skipped; switched on without its table: a clear error
        plan += [(("liine",), None, {"tap_liine__using_conversations": False, "tap_liine__using_interactly": False}),
                 (("conversations",), None, {"tap_liine__using_liine": True})]  # fmt: skip
    for number, (subset, spelling, variables) in enumerate(plan):
        tables = [table for source in subset for table in SOURCES[source][0]]
        sql = ["drop schema if exists liine cascade", "create schema liine"]
        for table in tables:
            sql.append(f"create table liine.{table} as select * from raw.{table}")
            sql += _respell(table, spelling, json_type) if spelling else []
        steps.append({"subset": subset, "spelling": spelling, "vars": variables, "sql": sql, "args": ["build"],
                      "keep": {"from": "analytics", "to": f"kept_{number}"}})  # fmt: skip
    first = steps[0]["sql"]
    steps[0]["sql"] = [
        "create schema raw",
        *(f"create table raw.{n} as select * from liine.{n}" for n in TABLES),
        *first,
    ]
    return steps


def _run_subsets(adapter: str, connection: dict[str, str], env: dict[str, str], tmp: Path) -> list[dict[str, t.Any]]:
    """Every step of _subset_steps in one dbt process; each step's results and marts."""
    steps = _subset_steps("json" if adapter == "duckdb" else "jsonb", with_vars=adapter == "duckdb")
    plan = {"adapter": adapter, **connection, "project_dir": str(ROOT / "transform"), "target_path": str(tmp),
            "profiles_dir": str(ROOT / "transform" / "profiles" / adapter), "steps": steps,
            "vars": {"tap_liine__timezone": ZONES[adapter]}}  # fmt: skip
    (tmp / "plan.json").write_text(json.dumps(plan))
    python = ROOT / ".meltano" / "utilities" / f"dbt-{adapter}" / "venv" / "bin" / "python"
    command = [str(python), str(ROOT / "tests" / "dbt_runs.py"), str(tmp / "plan.json"), str(tmp / "results.json")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    results = json.loads((tmp / "results.json").read_text())
    return [{**step, **result} for step, result in zip(steps, results, strict=True)]


@pytest.fixture(scope="module")
def server(duckdb_loaded) -> SandboxServer:
    return duckdb_loaded[0]


@pytest.fixture(scope="module")
def duckdb_built(duckdb_loaded, tmp_path_factory) -> tuple[Marts, list[dict[str, t.Any]]]:
    """The marts of the full build (through Meltano) on a copy of the session's DuckDB load,
    then the subsets' steps with their marts."""
    tmp = tmp_path_factory.mktemp("duckdb")
    warehouse = Path(shutil.copyfile(duckdb_loaded[1], tmp / "warehouse.duckdb"))  # dbt builds in it
    env = {"DBT_DUCKDB_PATH": str(warehouse), "DBT_DUCKDB_SCHEMA": "analytics"}
    meltano("invoke", "dbt-duckdb", "build", env=env)  # tap_liine__timezone: the default, America/New_York
    query = _duckdb_query(warehouse)
    marts = _read(query, "analytics")
    steps = _run_subsets("duckdb", {"path": str(warehouse)}, {**os.environ, **env}, tmp)
    return marts, [{**step, "marts": _read(query, f"kept_{n}")} for n, step in enumerate(steps)]


@pytest.fixture(scope="module")
def postgres_built(postgres_loaded, tmp_path_factory) -> tuple[Marts, list[dict[str, t.Any]]]:
    """As duckdb_built, on a copy of the session's PostgreSQL load (in America/New_York)."""
    pg = postgres.copy(postgres_loaded[1], "dbt_build")
    loader = pg_env(pg, "liine")
    # dbt-postgres reads target-postgres's connection (meltano.yml): nothing of its own.
    meltano("invoke", "dbt-postgres", "build", "--vars", f"{{tap_liine__timezone: {ZONES['postgres']}}}",
            env=loader)  # fmt: skip
    query = _postgres_query(pg)
    marts = _read(query, "analytics")
    dbt_env = {**os.environ, "DBT_POSTGRES_HOST": pg.host, "DBT_POSTGRES_PORT": str(pg.port),
               "DBT_POSTGRES_USER": pg.user, "DBT_POSTGRES_DBNAME": pg.database,
               "DBT_POSTGRES_SCHEMA": "analytics"}  # fmt: skip
    steps = _run_subsets("postgres", {"dsn": pg.dsn()}, dbt_env, tmp_path_factory.mktemp("postgres"))
    return marts, [{**step, "marts": _read(query, f"kept_{n}")} for n, step in enumerate(steps)]


@pytest.fixture(scope="module")
def expected(server) -> dict[str, Marts]:
    return {warehouse: truth(server.apis, zone) for warehouse, zone in ZONES.items()}


@pytest.mark.parametrize("mart", list(MARTS))
@pytest.mark.parametrize("warehouse", ["duckdb", "postgres"])
def test_every_mart_equals_the_truth_computed_from_the_sandbox(warehouse, mart, expected, request) -> None:
    built: Marts = request.getfixturevalue(f"{warehouse}_built")[0]
    want, got = expected[warehouse][mart], built[mart]
    assert len(want) >= 20, "too small a sample to prove anything"
    assert sorted(got) == sorted(want)
    different = {key: (got[key], row) for key, row in want.items() if got[key] != row}
    assert not different, list(different.items())[:3]


@pytest.mark.parametrize("warehouse", ["duckdb", "postgres"])
def test_every_subset_of_sources_and_every_spelling_builds_the_same_marts(warehouse, expected, request) -> None:
    steps = request.getfixturevalue(f"{warehouse}_built")[1]
    want = expected[warehouse]
    for step in steps:
        label = f"{step['subset']} {step['spelling']} {step['vars']}"
        if step["vars"].get("tap_liine__using_liine"):  # required, but its table is not there
            assert not step["success"], label
            assert any("tap_liine__using_liine is true but the table" in e and "interactions" in e
                       for e in step["errors"]), step["errors"]  # fmt: skip
            continue
        assert step["success"], (label, step["errors"])
        for source, (_, marts) in SOURCES.items():
            for mart in marts:
                if source in step["subset"]:
                    assert step["marts"][mart] == want[mart], (label, mart)
                elif step["vars"].get(f"tap_liine__using_{source}") is False:
                    assert mart not in step["marts"], (label, mart)  # skipped
                else:
                    assert step["marts"][mart] == {}, (label, mart)  # built empty
        warned = sorted(column for status, column in step["nodes"].values() if status == "warn")
        unknown = [f for source, fs in WARNED.items() if source in step["subset"] for f in fs]
        assert warned == (sorted(unknown) if step["spelling"] == "any case" else []), label
    subsets = {step["subset"] for step in steps}
    assert len(subsets) == 7  # with the main build: all eight


def test_the_funnel_counts_every_interaction_once_per_attribution(server, duckdb_built) -> None:
    funnel = duckdb_built[0]["lead_funnel"]
    first, last = (
        sum(r["interactions"] for k, r in funnel.items() if k[1] == a) for a in ("first_touch", "last_touch")
    )
    assert first == last == len(mart_truth.interactions(server.apis[0], tap_config())) > 1000


def test_the_project_parses_for_snowflake(tmp_path: Path) -> None:
    env = {f"DBT_SNOWFLAKE_{name}": "unused" for name in ("ACCOUNT", "USER", "WAREHOUSE", "DATABASE")}
    meltano("invoke", "dbt-snowflake", "parse", "--target-path", str(tmp_path), env=env)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    models = {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    assert set(MARTS) <= models and len(models) == len(MARTS) + 6
    assert manifest["metadata"]["adapter_type"] == "snowflake"
    assert (ROOT / "transform" / "dbt_project.yml").exists()


def _readme_patient_data_example() -> tuple[dict[str, t.Any], list[str]]:
    """The stream maps and `select` of the README's "Patient data" example, as written."""
    section = (ROOT / "README.md").read_text().split("\n## Patient data\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    [tap] = yaml.safe_load(block)["plugins"]["extractors"]
    return tap["config"]["stream_maps"], tap["select"]


@pytest.fixture(scope="module")
def mapped_built(server, tmp_path_factory) -> Path:
    """`meltano run tap-liine target-duckdb dbt-duckdb:build` under the README's patient-data
    maps and selection, into a DuckDB file of its own."""
    maps, select = _readme_patient_data_example()
    warehouse = tmp_path_factory.mktemp("mapped") / "warehouse.duckdb"
    env = {"TAP_LIINE_STREAM_MAPS": json.dumps(maps), "TAP_LIINE__SELECT": json.dumps(select),
           "TARGET_DUCKDB_FILEPATH": str(warehouse), "DBT_DUCKDB_PATH": str(warehouse),
           "DBT_DUCKDB_SCHEMA": "analytics"}  # fmt: skip
    meltano_run(server, "tap-liine", "target-duckdb", "dbt-duckdb:build", env=env, state_id=uuid.uuid4().hex, full=True)
    return warehouse


def test_the_marts_build_whatever_patient_data_the_readme_maps_away(mapped_built, duckdb_loaded, expected) -> None:
    maps, select = _readme_patient_data_example()
    assert maps["conversation_messages"] == {"body": "__NULL__", "sender_info": "__NULL__"}
    assert "!conversations.patient.email" in select  # a nested deselection
    mapped, unmapped = _duckdb_query(mapped_built), _duckdb_query(duckdb_loaded[1])
    # The loader created no column for what was nulled or deselected; the hash kept its own.
    columns = {table: set(mapped(f"select * from liine.{table} limit 0")[0]) for table in TABLES}
    assert not {"body", "sender_info"} & columns["conversation_messages"]
    assert not {"name", "phone_number"} & columns["interactions"]
    emails = "select count(email), count(distinct email) from liine.interactions"
    assert mapped(emails)[1] == unmapped(emails)[1] and mapped(emails)[1][0][0] > 100
    not_md5 = "select count(*) from liine.interactions where not regexp_full_match(email, '[0-9a-f]{32}')"
    assert mapped(not_md5)[1] == [(0,)]
    patients = "select count(*), count(patient ->> 'email'), count(patient ->> 'id') from liine.conversations"
    assert mapped(patients)[1] == [(unmapped(patients)[1][0][0], 0, unmapped(patients)[1][0][2])]

    # Every mart built: those that do not read the nulled fields exactly as without the maps;
    # the response times, which tell the patient by sender_info, have no patient message.
    marts = _read(mapped, "analytics")
    for mart in ("lead_funnel", "call_handling", "appointments_daily"):
        assert marts[mart] == expected["duckdb"][mart], mart
    assert marts["patient_response_times"] == marts["patient_response_times_daily"] == {}
    messages = (
        "select count(*), count(body), count(sender_type), sum(cast(is_from_patient as int)), "
        "sum(cast(is_from_practice as int)) from analytics_staging.stg_liine__conversation_messages"
    )
    distinct = unmapped("select count(distinct id) from liine.conversation_messages")[1][0][0]
    assert mapped(messages)[1] == [(distinct, 0, 0, 0, 0)] and distinct > 500
    conversations = "select count(*), count(patient_id) from analytics_staging.stg_liine__conversations"
    assert mapped(conversations)[1] == [
        unmapped(
            "select count(distinct id), count(distinct case when patient "
            "->> 'id' is not null then id end) from liine.conversations"
        )[1][0]
    ]
