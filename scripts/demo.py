"""`make demo`: sandbox -> `meltano run tap-liine target-duckdb dbt-duckdb:build` -> what landed.

The rows landed are checked against the sandbox's ground truth; then the dbt project's
marts (transform/) answer what a practice asks first: which channels bring patients.

Each demo is a clean slate: the DuckDB file is recreated and the run is a --full-refresh,
so a second `make demo` lands the same rows again instead of an incremental sliver.
"""

from __future__ import annotations

import decimal
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


def cell(value: object) -> str:
    """A number with thousands separators (whole numbers without decimals), "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
    return str(value)


def line(values: list[str], widths: list[int]) -> str:
    """The first column left-aligned, the numbers after it right-aligned."""
    return "  " + "  ".join(
        v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
    )


def show(con: duckdb.DuckDBPyConnection, title: str, labels: list[str], sql: str, note: str) -> None:
    """A mart's answer as a table a person reads at a glance: labelled columns and a note on what they count."""
    rows = [[cell(value) for value in row] for row in con.sql(sql).fetchall()]
    widths = [max(len(label), *(len(row[i]) for row in rows)) for i, label in enumerate(labels)]
    print(f"\n{title}")
    print(line(labels, widths))
    for row in rows:
        print(line(row, widths))
    print(f"  {note}")


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
    show(
        con,
        "Inbound calls by location (analytics.call_handling)",
        ["Location", "Calls", "Answered", "Missed", "Neither"],
        f"""select location, sum(calls), sum(answered), sum(missed), sum(calls - answered - missed)
        from {MARTS}.call_handling group by 1 order by 2 desc""",
        "Calls: inbound and not spam-likely. Neither answered nor missed: calls that ended in an error "
        "or are still in progress.",
    )
    show(
        con,
        "How fast patients get an answer, per location (analytics.patient_response_times)",
        ["Location id", "Conversations", "Answered", "Median minutes to answer"],
        f"""select location_id, count(*), count(first_reply_at), round(median(response_seconds) / 60)
        from {MARTS}.patient_response_times group by 1 order by 1""",
        "From the patient's first message to the practice's first reply after it. The conversations API "
        "knows a location by its id only (conversations_location_ids).",
    )
    show(
        con,
        "Funnel by marketing channel, first-touch attribution (analytics.lead_funnel)",
        ["Channel", "Interactions", "New leads", "Booked", "Booked later", "Attended", "No-shows", "Revenue ($)",
         "Revenue per booking ($)"],
        f"""select marketing_channel, sum(interactions), sum(new_leads), sum(booked), sum(booked_later),
               sum(attended), sum(no_shows), round(sum(revenue)),
               round(sum(revenue) / nullif(sum(booked) + sum(booked_later), 0))
        from {MARTS}.lead_funnel where attribution = 'first_touch'
        group by 1 order by 2 desc""",
        "Spam-likely interactions left out; revenue is that of booked and booked-later interactions.",
    )  # fmt: skip
    return ok


def main() -> int:
    args = build_parser().parse_args(["--port", str(free_port())])
    server = build_server(args).start()
    try:
        WAREHOUSE.parent.mkdir(exist_ok=True)
        WAREHOUSE.unlink(missing_ok=True)
        log = ROOT / "output" / "demo-meltano.log"
        print(f"Sandbox on {server.url}; running: meltano {' '.join(COMMAND)} (log: {log.relative_to(ROOT)})")
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
