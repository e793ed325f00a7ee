"""`make demo`: sandbox -> `meltano run tap-liine target-duckdb dbt-duckdb:build` -> what landed.

The rows landed are checked against the sandbox's ground truth; then the dbt project's
marts (transform/) answer what a practice asks first: which channels bring patients.

Each demo is a clean slate: the DuckDB file is recreated and the run is a --full-refresh,
so a second `make demo` lands the same rows again instead of an incremental sliver.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml

from tap_liine.sandbox.__main__ import build_parser, build_server
from tap_liine.sandbox.truth import expected_rows

ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE = ROOT / "output" / "warehouse.duckdb"
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
SCHEMA = "liine"
MARTS = "analytics"  # dbt-duckdb's schema setting (meltano.yml)
COMMAND = ["run", "--full-refresh", "tap-liine", "target-duckdb", "dbt-duckdb:build"]


def free_port(preferred: int = 8765) -> int:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sandbox_tap_config() -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    env = next(e for e in project["environments"] if e["name"] == "sandbox")
    return env["config"]["plugins"]["extractors"][0]["config"]


def meltano_env(url: str, warehouse: Path) -> dict[str, str]:
    env = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false")
    env.update(TARGET_DUCKDB_FILEPATH=str(warehouse), DBT_DUCKDB_PATH=str(warehouse), DBT_DUCKDB_SCHEMA=MARTS)
    for setting in ("API_URL", "CONVERSATIONS_API_URL", "INTERACTLY_API_URL"):
        env[f"TAP_LIINE_{setting}"] = url
    return env


def report(warehouse: Path, expected: dict[str, int]) -> bool:
    con = duckdb.connect(str(warehouse), read_only=True)
    q = con.sql
    print("\nRows landed in", warehouse.relative_to(ROOT))
    ok = True
    for table, want in expected.items():
        got = q(f"select count(*) from {SCHEMA}.{table}").fetchone()[0]  # type: ignore[index]
        ok &= got == want
        print(f"  {table:<24}{got:>8}   {'= sandbox truth' if got == want else f'!= {want} expected'}")
    print("Every table matches the sandbox's ground truth." if ok else "MISMATCH against the sandbox's ground truth.")
    print("\nCalls by location: answered, missed (analytics.call_handling)")
    print(
        q(f"""
        select location, sum(calls) as calls, sum(answered) as answered, sum(missed) as missed
        from {MARTS}.call_handling group by 1 order by calls desc""")
    )
    print("How fast patients get an answer, median minutes per location (analytics.patient_response_times)")
    print(
        q(f"""
        select location_id, count(*) as conversations, count(first_reply_at) as answered,
               round(median(response_seconds) / 60, 1) as median_minutes
        from {MARTS}.patient_response_times group by 1 order by 1""")
    )
    print("Funnel by marketing channel, first-touch attribution (analytics.lead_funnel)")
    print(
        q(f"""
        select marketing_channel as channel, sum(interactions) as interactions, sum(new_leads) as new_leads,
               sum(booked) as booked, sum(booked_later) as booked_later, sum(attended) as attended,
               sum(no_shows) as no_shows, round(sum(revenue), 2) as revenue_usd
        from {MARTS}.lead_funnel where attribution = 'first_touch'
        group by 1 order by interactions desc""")
    )
    return ok


def main() -> int:
    args = build_parser().parse_args(["--port", str(free_port())])
    server = build_server(args).start()
    try:
        WAREHOUSE.parent.mkdir(exist_ok=True)
        WAREHOUSE.unlink(missing_ok=True)
        log = ROOT / "output" / "demo-meltano.log"
        print(f"Sandbox on {server.url}; running: meltano {' '.join(COMMAND)} (log: {log.name})")
        with log.open("w") as sink:
            run = subprocess.run(
                [str(MELTANO), *COMMAND],
                cwd=ROOT, env=meltano_env(server.url, WAREHOUSE), stdout=sink, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
        if run.returncode != 0:
            print(log.read_text()[-4000:], file=sys.stderr)
            print(f"meltano run failed ({run.returncode}); full log in {log}", file=sys.stderr)
            return 1
        ok = report(WAREHOUSE, expected_rows(server.apis, sandbox_tap_config()))
    finally:
        server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
