"""The real meltanolabs-target-snowflake, as far as a stand-in can go: the tables it creates, in fakesnow.

fakesnow (PyPI) plays Snowflake in server mode; the target (from the Meltano project, as
pinned) has no host or port setting, so a test-only `sitecustomize` sends its connection
to fakesnow. fakesnow runs the target's CREATE TABLE statements; it does not support the
PUT to a stage, `COPY ... $1:col`, MERGE from a stage or REMOVE the target loads rows
with, so rows, key-pair authentication and `timestamp_type` need a real account (README).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import typing as t
from pathlib import Path

import pytest

from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent
FAKESNOW = ROOT / ".venv-fakesnow" / "bin"
TARGET = ROOT / ".meltano" / "loaders" / "target-snowflake" / "venv" / "bin" / "target-snowflake"
REDIRECT = """
import os
import snowflake.connector

_connect = snowflake.connector.connect


def _to_fakesnow(*args, **kwargs):
    kwargs.update(host="127.0.0.1", port=int(os.environ["FAKESNOW_PORT"]), protocol="http")
    return _connect(*args, **kwargs)


snowflake.connector.connect = _to_fakesnow
"""
QUERY = """
import json, sys
import snowflake.connector
con = snowflake.connector.connect(account="fakesnow", user="u", password="p", host="127.0.0.1",
                                  port=int(sys.argv[1]), protocol="http", database="ANALYTICS")
cur = con.cursor()
cur.execute(sys.argv[2])
print(json.dumps(cur.fetchall()))
"""

if not (FAKESNOW / "fakesnow").exists() or not TARGET.exists():
    pytest.skip("fakesnow or target-snowflake is not installed: run `make install`", allow_module_level=True)


@pytest.fixture
def fakesnow() -> t.Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = subprocess.Popen([str(FAKESNOW / "fakesnow"), "-s", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stderr is not None
        for line in server.stderr:  # uvicorn says when it listens
            if "Uvicorn running" in line:
                break
        _sql(port, "create database if not exists ANALYTICS")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def _sql(port: int, statement: str) -> list[list[t.Any]]:
    done = subprocess.run([str(FAKESNOW / "python"), "-c", QUERY, str(port), statement],
                          capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    return t.cast("list[list[t.Any]]", json.loads(done.stdout))


def test_target_snowflake_creates_a_table_per_stream_with_these_column_types(fakesnow, tmp_path) -> None:
    tap = TapLiine(config=all_sources_config("http://127.0.0.1:9"))
    schemas = [
        {"type": "SCHEMA", "stream": s.name, "schema": s.schema, "key_properties": list(s.primary_keys or [])}
        for s in tap.streams.values()
    ]
    (tmp_path / "sitecustomize.py").write_text(REDIRECT)
    config = {"account": "fakesnow", "user": "LOADER", "password": "unused", "database": "ANALYTICS",
              "default_target_schema": "LIINE", "add_record_metadata": True}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = dict(os.environ, FAKESNOW_PORT=str(fakesnow), PYTHONPATH=str(tmp_path))
    loaded = subprocess.run([str(TARGET), "--config", str(tmp_path / "config.json")],
                            input="\n".join(json.dumps(s) for s in schemas) + "\n", env=env,
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-3000:]

    rows = _sql(fakesnow, "select table_name, column_name, data_type from information_schema.columns "
                          "where table_schema = 'LIINE' order by 1, 2")  # fmt: skip
    columns: dict[str, dict[str, str]] = {}
    for table, column, kind in rows:
        columns.setdefault(table, {})[column] = kind
    metadata = {"_SDC_EXTRACTED_AT", "_SDC_RECEIVED_AT", "_SDC_BATCHED_AT", "_SDC_DELETED_AT",
                "_SDC_SEQUENCE", "_SDC_TABLE_VERSION", "_SDC_SYNC_STARTED_AT"}  # fmt: skip
    for stream in schemas:
        table = stream["stream"].upper()
        assert set(columns[table]) - metadata == {name.upper() for name in stream["schema"]["properties"]}, table
    assert set(columns) == {s["stream"].upper() for s in schemas}
    interactions = columns["INTERACTIONS"]
    assert interactions["ID"] == "NUMBER" and interactions["CUSTOMER_ID"] == "NUMBER"
    assert interactions["START_TIME"] == "TEXT"  # the wall-clock time: not a UTC instant (time policy)
    assert interactions["START_TIME_TZ"] == interactions["UPDATED_AT"] == "TIMESTAMP_NTZ"
    assert interactions["REVENUE"] == "FLOAT" and interactions["IS_SPAM_LIKELY"] == "BOOLEAN"
    assert interactions["PROVIDER_NAMES"] == interactions["INITIAL_SESSION_EXTRAS"] == "VARIANT"
    assert columns["CONVERSATIONS"]["PATIENT"] == "VARIANT"
    assert columns["CONVERSATION_MESSAGES"]["CREATED_AT_WITH_TZ"] == "TEXT"  # its offset kept (time policy)
    assert columns["APPOINTMENT_STATISTICS"]["DATE"] == "TIMESTAMP_NTZ"
    assert columns["APPOINTMENT_STATISTICS"]["UTM_CAMPAIGN"] == "VARIANT"
    assert columns["APPOINTMENT_TRENDS"]["SUCCESSFUL"] == "NUMBER"
