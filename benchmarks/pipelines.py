"""End to end, as users run it: `meltano run tap-liine <loader>` in every loading mode worth having, and dlt.

    python -m benchmarks.pipelines                   # 200,000 interactions, 3 runs of each
    python -m benchmarks.pipelines --scale 50000 --repeat 1 --only postgres

For each scenario: records/s (min / median / max of the runs, from `meltano run` starting
to `meltano run` ending), the peak RSS of the tap, of the loader and of Meltano itself
(their kernel high-water marks, read while they run), how many of the sandbox's
interactions landed, and the CPU seconds each process spent (tap, loader, Meltano, dlt, the
sandbox API, PostgreSQL): on 2 cores, where the time goes. Every scenario sets the loader settings it measures, whatever
meltano.yml's defaults are. The tap alone runs in the same benchmark, as the reference.
A dlt `rest_api` pipeline (`benchmarks/dlt_peer.py`, in a venv of its own) loads the same
sandbox into the same warehouses. A real PostgreSQL is started as the tests start it.
Measures, asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

import duckdb
import psutil
import psycopg
import requests
import yaml

from benchmarks.bench import BIN, CUSTOMERS, ROOT, count_records, sandbox, tap_config, tap_run
from tests import postgres

MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
DLT_PYTHON = ROOT / ".venv-dlt" / "bin" / "python"
START = "2020-01-01T00:00:00Z"


class Scenario(t.NamedTuple):
    name: str
    loader: str  # a loader of meltano.yml, or "dlt-postgres" / "dlt-duckdb" / "tap"
    settings: dict[str, t.Any]  # the loader's, as env vars
    compression: str | None = None  # BATCH messages (`tap-liine-batch`), gzip'd or not
    batch_size: int | None = None  # records per BATCH file (the SDK's default: 10,000)
    parquet: bool = False  # BATCH Parquet files: plugins with pyarrow, in a project of the benchmark's own


PG_TARGET_DEFAULTS = {"use_copy": False, "validate_records": True}
PG_MELTANO_YML: dict[str, t.Any] = {}  # use_copy, no re-validation
SCENARIOS = [
    Scenario("tap alone -> /dev/null", "tap", {}),
    Scenario("postgres: RECORD, the target's defaults", "target-postgres", PG_TARGET_DEFAULTS),
    Scenario("postgres: RECORD, use_copy", "target-postgres", {**PG_TARGET_DEFAULTS, "use_copy": True}),
    Scenario("postgres: RECORD, use_copy, no re-validation (meltano.yml)", "target-postgres", PG_MELTANO_YML),
    Scenario("postgres: BATCH jsonl.gz (tap-liine-batch)", "target-postgres", PG_MELTANO_YML, "gzip"),
    Scenario("postgres: BATCH jsonl", "target-postgres", PG_MELTANO_YML, "none"),
    Scenario("postgres: BATCH jsonl.gz, 20,000 per file", "target-postgres", PG_MELTANO_YML, "gzip", 20_000),
    Scenario("postgres: BATCH jsonl.gz, 25,000 per file", "target-postgres", PG_MELTANO_YML, "gzip", 25_000),
    Scenario(
        "postgres: BATCH parquet (not exact, see README)", "target-postgres", PG_MELTANO_YML, "none", parquet=True
    ),
    Scenario("postgres: BATCH parquet gzip", "target-postgres", PG_MELTANO_YML, "gzip", parquet=True),
    Scenario("postgres: pipelinewise-target-postgres, its defaults", "target-postgres-pipelinewise", {}),
    Scenario("postgres: dlt rest_api (its defaults)", "dlt-postgres", {}),
    Scenario("duckdb: batch_size_rows 100000 (the target's default)", "target-duckdb", {"batch_size_rows": 100_000}),
    Scenario("duckdb: batch_size_rows 10000 (meltano.yml)", "target-duckdb", {}),
    Scenario("duckdb: batch_size_rows 5000", "target-duckdb", {"batch_size_rows": 5_000}),
    Scenario("duckdb: dlt rest_api (jsonl)", "dlt-duckdb", {}),
]


class Run(t.NamedTuple):
    seconds: float
    peaks_mb: dict[str, float]  # process role -> peak RSS
    landed: int  # distinct interaction ids in the warehouse
    cpu_s: dict[str, float]  # process role -> CPU seconds (user + system) spent in the run


CPU_ROLES = ("tap", "loader", "meltano", "dlt", "api", "db")  # api: the sandbox; db: PostgreSQL


class Servers(t.NamedTuple):
    """The long-lived processes a run also keeps busy: their CPU is read before and after it."""

    api: psutil.Process
    db: psutil.Process | None  # the postmaster

    def cpu_s(self) -> dict[str, float]:
        def used(process: psutil.Process, *, reaped: bool) -> float:
            times = process.cpu_times()
            return times.user + times.system + (times.children_user + times.children_system if reaped else 0.0)

        totals = {"api": used(self.api, reaped=False), "db": 0.0}
        if self.db is not None:  # the postmaster, its reaped backends, and its live workers
            totals["db"] = used(self.db, reaped=True)
            for child in self.db.children():
                with contextlib.suppress(psutil.NoSuchProcess):  # a backend may end between the two reads
                    totals["db"] += used(child, reaped=False)
        return totals


def _role(process: psutil.Process) -> str | None:
    # The program is the script an interpreter runs (a console script), else the executable.
    programs = [Path(arg).name for arg in process.cmdline()[:2]]
    for program, role in (("tap-liine", "tap"), ("meltano", "meltano"), ("dlt_peer.py", "dlt")):
        if program in programs:
            return role
    return "loader" if any(p.startswith("target-") for p in programs) else None


def _peak_mb(process: psutil.Process) -> float:
    with open(f"/proc/{process.pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


class Watched(t.NamedTuple):
    seconds: float
    peaks_mb: dict[str, float]
    cpu_s: dict[str, float]


PARQUET_PROJECT = ROOT / ".meltano" / "bench-parquet"  # kept between runs: its plugins install once
PYARROW = "pyarrow==26.0.1"


def parquet_project() -> Path:
    """This project's meltano.yml, plus a tap and a target-postgres with pyarrow for Parquet files.

    Not in meltano.yml itself: Parquet files are not the exact mode (README, Performance), and
    pyarrow would double what `make test` installs.
    """
    PARQUET_PROJECT.mkdir(parents=True, exist_ok=True)
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugins = project["plugins"]
    plugins["extractors"].append({"name": "tap-liine-parquet", "inherit_from": "tap-liine-batch",
                                  "pip_url": f"-e {ROOT}[parquet]", "config": {"batch_config": {
                                      "encoding": {"format": "parquet", "compression": "none"}}}})  # fmt: skip
    target = next(p for p in plugins["loaders"] if p["name"] == "target-postgres")
    plugins["loaders"].append({"name": "target-postgres-parquet", "inherit_from": "target-postgres",
                               "pip_url": f"{target['pip_url']} {PYARROW}"})  # fmt: skip
    text = yaml.safe_dump(project, sort_keys=False)
    meltano_yml = PARQUET_PROJECT / "meltano.yml"
    if not meltano_yml.exists() or meltano_yml.read_text() != text:
        meltano_yml.write_text(text)
        for kind, name in (("extractor", "tap-liine-parquet"), ("loader", "target-postgres-parquet")):
            subprocess.run([str(MELTANO), "install", "--plugin-type", kind, name], cwd=PARQUET_PROJECT, check=True,
                           env=dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false"))  # fmt: skip
    return PARQUET_PROJECT


def run_watched(args: list[str], env: dict[str, str], log: Path, servers: Servers, cwd: Path = ROOT) -> Watched:
    """Run a command to its end; its wall time, the peak RSS and CPU seconds of its processes by role."""
    peaks: dict[str, float] = {}
    cpu: dict[int, tuple[str, float]] = {}  # pid -> role, CPU seconds when last seen (to within a poll)
    servers_before = servers.cpu_s()
    start = time.perf_counter()
    with log.open("w") as sink:
        main = psutil.Popen(args, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)
        while main.poll() is None:
            for process in [main, *main.children(recursive=True)]:
                with contextlib.suppress(psutil.Error, OSError, StopIteration):
                    role = _role(process)
                    if role:
                        peaks[role] = max(peaks.get(role, 0.0), _peak_mb(process))
                        times = process.cpu_times()
                        cpu[process.pid] = (role, times.user + times.system)
            time.sleep(0.05)
    seconds = time.perf_counter() - start
    used = {role: after - servers_before[role] for role, after in servers.cpu_s().items()}
    for role, spent in cpu.values():
        used[role] = used.get(role, 0.0) + spent
    if main.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]  # the folder goes with the run
        raise SystemExit(f"{' '.join(args)} failed ({main.returncode}); the end of its log:\n{tail}")
    return Watched(seconds, peaks, used)


def _settings_env(loader: str, settings: dict[str, t.Any]) -> dict[str, str]:
    prefix = loader.upper().replace("-", "_")
    return {f"{prefix}_{name.upper()}": json.dumps(value) for name, value in settings.items()}


class Bench:
    def __init__(self, url: str, pg: postgres.Postgres, folder: Path, expected: set[int], servers: Servers) -> None:
        self.url, self.pg, self.folder, self.expected, self.servers = url, pg, folder, expected, servers

    def env(self, scenario: Scenario, schema: str) -> dict[str, str]:
        env = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", TAP_LIINE_API_URL=self.url,
                   TAP_LIINE_START_DATE=START, TAP_LIINE_CONVERSATIONS_LOCATION_IDS="[]",
                   TAP_LIINE_INTERACTLY_INTEGRATION_IDS="[]", TAP_LIINE_CONVERSATIONS_API_KEY="",
                   TAP_LIINE_INTERACTLY_API_KEY="", TAP_LIINE_CONVERSATIONS_SUBDOMAIN="",
                   TARGET_POSTGRES_HOST=self.pg.host, TARGET_POSTGRES_PORT=str(self.pg.port),
                   TARGET_POSTGRES_USER=self.pg.user, TARGET_POSTGRES_PASSWORD="unused",  # noqa: S106 - trust auth
                   TARGET_POSTGRES_DATABASE=self.pg.database, TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=schema,
                   TARGET_POSTGRES_PIPELINEWISE_HOST=self.pg.host, TARGET_POSTGRES_PIPELINEWISE_PORT=str(self.pg.port),
                   TARGET_POSTGRES_PIPELINEWISE_USER=self.pg.user, TARGET_POSTGRES_PIPELINEWISE_PASSWORD="unused",  # noqa: S106
                   TARGET_POSTGRES_PIPELINEWISE_DBNAME=self.pg.database,
                   TARGET_POSTGRES_PIPELINEWISE_DEFAULT_TARGET_SCHEMA=schema,
                   TARGET_DUCKDB_FILEPATH=str(self.folder / f"w_{schema}.duckdb"),
                   TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA=schema)  # fmt: skip
        env.update(_settings_env(scenario.loader, scenario.settings))
        tap = "TAP_LIINE_PARQUET" if scenario.parquet else "TAP_LIINE_BATCH"
        if scenario.compression:  # tap-liine-batch, its files in this run's folder
            env.update({f"{tap}_BATCH_CONFIG_ENCODING_COMPRESSION": scenario.compression,
                        f"{tap}_BATCH_CONFIG_STORAGE_ROOT": (self.folder / "batches").as_uri()})  # fmt: skip
        if scenario.batch_size:
            env[f"{tap}_BATCH_CONFIG_BATCH_SIZE"] = str(scenario.batch_size)
        return env

    def run(self, scenario: Scenario) -> Run:
        schema = f"b_{uuid.uuid4().hex[:10]}"
        log = self.folder / f"{schema}.log"
        if scenario.loader == "tap":
            config = tap_config(self.url, self.folder, start_date=START)
            watched = run_watched(
                [str(BIN / "tap-liine"), "--config", str(config)], dict(os.environ), log, self.servers
            )
            return Run(watched.seconds, watched.peaks_mb, len(self.expected), watched.cpu_s)
        if scenario.loader.startswith("dlt-"):
            destination = scenario.loader.removeprefix("dlt-")
            args = [str(DLT_PYTHON), str(ROOT / "benchmarks" / "dlt_peer.py"), "--url", self.url,
                    "--customers", CUSTOMERS, "--start", START, "--destination", destination, "--schema", schema,
                    "--duckdb", str(self.folder / f"w_{schema}.duckdb"), "--postgres", f"postgresql://{self.pg.user}:unused@{self.pg.host}:{self.pg.port}/{self.pg.database}"]  # fmt: skip
            watched = run_watched(args, dict(os.environ), log, self.servers)
        else:
            extractor = "tap-liine-batch" if scenario.compression else "tap-liine"
            loader, project = scenario.loader, ROOT
            if scenario.parquet:
                extractor, loader, project = "tap-liine-parquet", f"{loader}-parquet", parquet_project()
            args = [str(MELTANO), "run", "--full-refresh", "--state-id-suffix", schema, extractor, loader]
            watched = run_watched(args, self.env(scenario, schema), log, self.servers, project)
        return Run(watched.seconds, watched.peaks_mb, self.landed(scenario, schema), watched.cpu_s)

    def landed(self, scenario: Scenario, schema: str) -> int:
        query = f"select id from {schema}.interactions"  # noqa: S608 - our own schema name
        if "duckdb" in scenario.loader:
            with duckdb.connect(str(self.folder / f"w_{schema}.duckdb"), read_only=True) as con:
                ids = {row[0] for row in con.sql(query).fetchall()}
        else:
            with psycopg.connect(self.pg.dsn()) as con:
                ids = {row[0] for row in con.execute(query)}
        return len(ids & self.expected)


def report(scenario: Scenario, runs: list[Run], records: int) -> str:
    rates = sorted(records / run.seconds for run in runs)
    peaks = {role: max(run.peaks_mb.get(role, 0.0) for run in runs) for role in ("tap", "loader", "meltano", "dlt")}
    shown = " | ".join(f"{peaks[r]:>7.0f}" if peaks[r] else "      -" for r in ("tap", "loader", "meltano", "dlt"))
    landed = min(run.landed for run in runs)
    cpu = " / ".join(f"{statistics.median(run.cpu_s.get(role, 0.0) for run in runs):.0f}" for role in CPU_ROLES)
    return (f"| {scenario.name:<50} | {rates[0]:>7,.0f} | {statistics.median(rates):>7,.0f} | {rates[-1]:>7,.0f} "
            f"| {shown} | {landed:,} of {records:,} | {cpu} |")  # fmt: skip


def _servers(url: str, pg: postgres.Postgres) -> Servers:
    port = url.rsplit(":", 1)[1]
    api = next(
        p for p in psutil.Process().children() if "tap-liine-sandbox" in " ".join(p.cmdline()) and port in p.cmdline()
    )
    db = next((p for p in psutil.process_iter() if p.name() == "postgres" and str(pg.port) in p.cmdline()), None)
    return Servers(api, db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only", default="", help="run the scenarios whose name contains one of these (comma-separated)"
    )
    args = parser.parse_args()
    wanted = [w for w in args.only.split(",") if w] or [""]
    chosen = [s for s in SCENARIOS if any(w in s.name or w in s.loader for w in wanted)]
    if not DLT_PYTHON.exists():
        print("(dlt not installed: make bench installs it into .venv-dlt; its scenarios are skipped)")
        chosen = [s for s in chosen if not s.loader.startswith("dlt-")]
    bindir = postgres.binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL is needed (apt-get install postgresql-15)")
    with tempfile.TemporaryDirectory() as tmp, sandbox(args.scale) as url, contextlib.ExitStack() as stack:
        pg = stack.enter_context(contextlib.contextmanager(postgres.start)(bindir))
        folder = Path(tmp)
        expected: set[int] = set()
        for customer in CUSTOMERS.split(","):
            query = {"customer_id": customer, "start_date": START[:10], "include_is_spam_likely": "true"}
            expected.update(requests.get(f"{url}/_sandbox/liine/expected", params=query, timeout=60).json())
        tap_run(tap_config(url, folder, start_date=START), folder / "warm.jsonl")  # warms the sandbox's caches
        assert count_records(folder / "warm.jsonl") == len(expected)
        bench = Bench(url, pg, folder, expected, _servers(url, pg))
        print(f"\n{len(expected):,} interactions ({args.scale:,} in the sandbox), {args.repeat} runs of each; "
              "records/s; peak RSS in MB; interactions landed\n")  # fmt: skip
        print(
            "| pipeline | min | median | max | tap | loader | meltano | dlt | landed | CPU s: "
            + " / ".join(CPU_ROLES)
            + " |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for scenario in chosen:
            runs = [bench.run(scenario) for _ in range(args.repeat)]
            print(report(scenario, runs, len(expected)), flush=True)


if __name__ == "__main__":
    main()
