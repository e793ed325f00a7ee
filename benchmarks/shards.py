"""Sharded runs through orchestrate/ (Dagster): how throughput grows with 1, 2 and 4 shards.

    python -m benchmarks.shards                          # 200,000 interactions, 4 customers
    python -m benchmarks.shards --scale 20000 --shards 1,2 --repeat 1

Each run is `dagster job execute` of orchestrate/'s `liine_sync` job (no dbt step), its shards
side by side, each a `meltano run --state-id-suffix shard-<n> tap-liine target-postgres` with
its share of the customers, from an empty state into a fresh schema of one real PostgreSQL
(started as the tests start it). Records/s run from the job starting to the job ending,
Dagster's own start and each shard's Meltano start included. Measures, asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import requests
import yaml

from benchmarks.bench import ROOT, sandbox
from tests import postgres
from tests.meltano_project import pg_env

MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
DAGSTER = ROOT / ".venv-dagster" / "bin" / "dagster"
CUSTOMERS = [101, 202, 303, 404]
START = "2020-01-01T00:00:00Z"


def sync(shards: int, url: str, pg: postgres.Postgres, schema: str, folder: Path) -> float:
    """Seconds of one `dagster job execute` with `shards` shards, from an empty state."""
    practices = yaml.safe_load((ROOT / "orchestrate" / "practices.yml").read_text())
    # `prod`: the sandbox environment's own `env:` sets the other sources' keys, which a shard must blank.
    practices.update(shards=shards, meltano_project=str(ROOT), meltano=str(MELTANO), environment="prod",
                     transform=None, retries=0,
                     customer_ids=CUSTOMERS, conversations_location_ids=[], interactly_integration_ids=[])  # fmt: skip
    run = folder / schema
    (run / "dagster").mkdir(parents=True)
    (run / "practices.yml").write_text(yaml.safe_dump(practices))
    env = {**os.environ, "DAGSTER_HOME": str(run / "dagster"), "LIINE_PRACTICES": str(run / "practices.yml"),
           "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_STATE_BACKEND_URI": (run / "state").as_uri(),
           "TAP_LIINE_API_URL": url, "TAP_LIINE_START_DATE": START, "TAP_LIINE_USERNAME": "demo",
           "TAP_LIINE_PASSWORD": "demo-password", **pg_env(pg, schema)}  # fmt: skip
    command = [str(DAGSTER), "job", "execute", "-d", str(ROOT / "orchestrate"), "-m", "liine_orchestrate.definitions",
               "-j", "liine_sync"]  # fmt: skip
    start = time.perf_counter()
    with (run / "log").open("w") as log:
        done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"the job failed with {shards} shards: see {run / 'log'}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=200_000)
    parser.add_argument("--shards", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bindir = postgres.binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL is needed (apt-get install postgresql-15)")
    with (
        tempfile.TemporaryDirectory() as tmp,
        sandbox(args.scale, customers=",".join(map(str, CUSTOMERS))) as url,
        contextlib.ExitStack() as stack,
    ):
        pg = stack.enter_context(contextlib.contextmanager(postgres.start)(bindir))
        expected: set[int] = set()
        for customer in CUSTOMERS:
            query = {"customer_id": customer, "start_date": START[:10], "include_is_spam_likely": "true"}
            expected.update(requests.get(f"{url}/_sandbox/liine/expected", params=query, timeout=60).json())
        print(f"\n{len(expected):,} interactions of {len(CUSTOMERS)} customers, {args.repeat} runs of each\n")
        print("| shards | records/s min | median | max | median seconds | landed |")
        print("|---:|---:|---:|---:|---:|---|")
        for shards in [int(s) for s in args.shards.split(",")]:
            rates, seconds, landed = [], [], []
            for n in range(args.repeat):
                schema = f"liine_{shards}_shards_{n}"
                seconds.append(sync(shards, url, pg, schema, Path(tmp)))
                rates.append(len(expected) / seconds[-1])
                with psycopg.connect(pg.dsn()) as con:
                    ids = {i for (i,) in con.execute(f"select id from {schema}.interactions")}  # noqa: S608
                landed.append(len(ids & expected))
            print(f"| {shards} | {min(rates):,.0f} | {statistics.median(rates):,.0f} | {max(rates):,.0f} | "
                  f"{statistics.median(seconds):.1f} | {min(landed):,} of {len(expected):,} |")  # fmt: skip


if __name__ == "__main__":
    main()
