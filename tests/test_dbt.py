"""transform/ (the dbt project) on real warehouses: every mart equals the truth computed in Python.

The sandbox is loaded with `meltano run tap-liine target-duckdb` and `... target-postgres`
(a real PostgreSQL in America/New_York), the project is built with `meltano invoke
dbt-duckdb build` / `dbt-postgres build` (dbt's data tests included), and each mart is
compared row for row with tests/mart_truth.py, which reads the sandbox's own data.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import typing as t
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
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


def truth(apis: list[t.Any]) -> Marts:
    liine, conversations, interactly = apis
    config = tap_config()
    records = mart_truth.interactions(liine, config)
    per_conversation = mart_truth.patient_response_times(conversations, config)
    marts = {
        "lead_funnel": mart_truth.lead_funnel(records),
        "call_handling": mart_truth.call_handling(records),
        "patient_response_times": per_conversation,
        "patient_response_times_daily": mart_truth.patient_response_times_daily(per_conversation),
        "appointments_daily": mart_truth.appointments_daily(interactly, config),
    }
    return {
        name: {key: {c: _plain(v) for c, v in row.items()} for key, row in rows.items()} for name, rows in marts.items()
    }


@pytest.fixture(scope="module")
def server() -> t.Iterator[SandboxServer]:
    apis = [LiineApi(scale=3000), ConversationsApi(conversations_per_location=60), InteractlyApi(days=60)]
    with SandboxServer(apis) as running:
        yield running


@pytest.fixture(scope="module")
def duckdb_marts(server, tmp_path_factory) -> Marts:
    warehouse = tmp_path_factory.mktemp("duckdb") / "warehouse.duckdb"
    meltano_run(server, "tap-liine", "target-duckdb", env={"TARGET_DUCKDB_FILEPATH": str(warehouse)},
                state_id=uuid.uuid4().hex, full=True)  # fmt: skip
    meltano("invoke", "dbt-duckdb", "build", env={"DBT_DUCKDB_PATH": str(warehouse), "DBT_DUCKDB_SCHEMA": "analytics"})
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts = {}
        for mart, grain in MARTS.items():
            result = con.sql(f"select * from analytics.{mart}")
            marts[mart] = _keyed(result.columns, result.fetchall(), grain)
        return marts


@pytest.fixture(scope="module")
def postgres_marts(server) -> t.Iterator[Marts]:
    bindir = postgres.binaries()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql-15, see README)")
    for pg in postgres.start(bindir, timezone="America/New_York"):
        meltano_run(server, "tap-liine", "target-postgres", env=pg_env(pg, "liine"), state_id=uuid.uuid4().hex)
        dbt_env = {"DBT_POSTGRES_HOST": pg.host, "DBT_POSTGRES_PORT": str(pg.port), "DBT_POSTGRES_USER": pg.user,
                   "DBT_POSTGRES_DBNAME": pg.database, "DBT_POSTGRES_SCHEMA": "analytics"}  # fmt: skip
        meltano("invoke", "dbt-postgres", "build", env=dbt_env)
        marts = {}
        with psycopg.connect(pg.dsn()) as con:
            for mart, grain in MARTS.items():
                cursor = con.execute(f"select * from analytics.{mart}")
                columns = [d.name for d in cursor.description or []]
                marts[mart] = _keyed(columns, cursor.fetchall(), grain)
        yield marts


@pytest.fixture(scope="module")
def expected(server) -> Marts:
    return truth(server.apis)


@pytest.mark.parametrize("mart", list(MARTS))
@pytest.mark.parametrize("warehouse", ["duckdb", "postgres"])
def test_every_mart_equals_the_truth_computed_from_the_sandbox(warehouse, mart, expected, request) -> None:
    built: Marts = request.getfixturevalue(f"{warehouse}_marts")
    want, got = expected[mart], built[mart]
    assert len(want) >= 20, "too small a sample to prove anything"
    assert sorted(got) == sorted(want)
    different = {key: (got[key], row) for key, row in want.items() if got[key] != row}
    assert not different, list(different.items())[:3]


def test_the_funnel_counts_every_interaction_once_per_attribution(server, duckdb_marts) -> None:
    funnel = duckdb_marts["lead_funnel"]
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
