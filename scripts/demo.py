"""`make demo`: sandbox -> `meltano run tap-liine target-duckdb` -> what landed, checked.

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
    env = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", TARGET_DUCKDB_FILEPATH=str(warehouse))
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
    print("\nInteractions by last-touch marketing channel and outcome")
    print(
        q(f"""
        select coalesce(last_touch_marketing_channel, '(none)') as channel,
               count(*) as interactions,
               count(*) filter (where outcome = 'Booked') as booked,
               count(*) filter (where outcome = 'Booked Later') as booked_later,
               count(*) filter (where outcome = 'Not Booked') as not_booked,
               round(sum(coalesce(revenue, 0)), 2) as revenue_usd
        from {SCHEMA}.interactions where not is_spam_likely
        group by 1 order by interactions desc""")
    )
    print("Appointments per day, last 10 days with figures (Interactly, all integrations)")
    print(
        q(f"""
        select cast(date as date) as day, sum(successful) as successful, sum(failed) as failed
        from {SCHEMA}.appointment_trends group by 1 order by 1 desc limit 10""")
    )
    print("Patient conversations by location")
    print(
        q(f"""
        select c.location_id, count(distinct c.id) as conversations, count(m.id) as messages
        from {SCHEMA}.conversations c left join {SCHEMA}.conversation_messages m on m.conversation_id = c.id
        group by 1 order by 1""")
    )
    return ok


def main() -> int:
    args = build_parser().parse_args(["--port", str(free_port())])
    server = build_server(args).start()
    try:
        WAREHOUSE.parent.mkdir(exist_ok=True)
        WAREHOUSE.unlink(missing_ok=True)
        log = ROOT / "output" / "demo-meltano.log"
        print(f"Sandbox on {server.url}; running: meltano run --full-refresh tap-liine target-duckdb (log: {log.name})")
        with log.open("w") as sink:
            run = subprocess.run(
                [str(MELTANO), "run", "--full-refresh", "tap-liine", "target-duckdb"],
                cwd=ROOT, env=meltano_env(server.url, WAREHOUSE), stdout=sink, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
        if run.returncode != 0:
            print(log.read_text()[-4000:], file=sys.stderr)
            print(f"meltano run failed ({run.returncode}); full log in {log}", file=sys.stderr)
            return 1
        ok = report(WAREHOUSE, expected_rows(server.apis, sandbox_tap_config()))
    finally:
        server.stop()
    print("Every table matches the sandbox's ground truth." if ok else "MISMATCH against the sandbox's ground truth.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
