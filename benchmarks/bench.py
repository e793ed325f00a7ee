"""Throughput and memory of tap-liine's `interactions` stream against a local sandbox.

    python -m benchmarks.bench                       # 200,000 interactions, 3 repetitions
    python -m benchmarks.bench --scale 1000000 --meltano
    python -m benchmarks.bench --memory 10000,1000000    # and conversations with/without messages

Prints records/s, CPU seconds and peak RSS of (a) the sandbox alone (the same requests,
nothing parsed), (b) the baseline loop (orjson, one RECORD line per record), (c) tap-liine
writing to a file and, with --meltano, (d) `meltano run tap-liine target-jsonl`; then the
ratio (c)/(b) of medians. Not part of the test suite: it measures, it does not assert.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CUSTOMERS = "101,202,303"


class Measure(t.NamedTuple):
    wall: float
    cpu: float
    rss_mb: float


def run_measured(args: list[str], *, stdout: t.Any = subprocess.DEVNULL, env: dict | None = None) -> Measure:
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=stdout, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[0]} failed ({os.waitstatus_to_exitcode(status)})")
    return Measure(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


@contextlib.contextmanager
def sandbox(
    scale: int, latency_ms: float = 0.0, conversations: int = 150, customers: str = CUSTOMERS
) -> t.Iterator[str]:
    port = 18000 + os.getpid() % 1000
    proc = subprocess.Popen(
        [str(BIN / "tap-liine-sandbox"), "--port", str(port), "--scale", str(scale), "--customers", customers,
         "--latency-ms", str(latency_ms), "--conversations", str(conversations)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # "listening on ..."
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


def tap_config(url: str, folder: Path, **extra: t.Any) -> Path:
    path = folder / "config.json"
    path.write_text(json.dumps({"api_url": url, "username": "demo", "password": "demo-password",
                                "customer_ids": [int(c) for c in CUSTOMERS.split(",")],
                                "start_date": "2020-01-01T00:00:00Z", **extra}))  # fmt: skip
    return path


def tap_run(config: Path, out: Path, catalog: Path | None = None) -> Measure:
    with out.open("wb") as sink:
        extra = ["--catalog", str(catalog)] if catalog else []
        return run_measured([str(BIN / "tap-liine"), "--config", str(config), *extra], stdout=sink)


def conversations_config(url: str, folder: Path) -> Path:
    path = folder / "conversations.json"
    path.write_text(json.dumps({"conversations_api_url": url, "conversations_api_key": "demo-conversations-key",
                                "conversations_subdomain": "bright-smiles", "conversations_location_ids": ["3001", "3002"],
                                "start_date": "2020-01-01T00:00:00Z"}))  # fmt: skip
    return path


def catalog_without(config: Path, stream: str, folder: Path) -> Path:
    discovered = subprocess.run([str(BIN / "tap-liine"), "--config", str(config), "--discover"],
                                capture_output=True, check=True, cwd=ROOT).stdout  # fmt: skip
    catalog = json.loads(discovered)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] != stream
    path = folder / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def count_records(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.startswith(b'{"type":"RECORD"'))


def summarize(name: str, runs: list[Measure], records: int) -> dict[str, float]:
    rates = sorted(records / r.wall for r in runs)
    row = {
        "min": rates[0], "median": statistics.median(rates), "max": rates[-1],
        "cpu": statistics.median(r.cpu for r in runs), "rss": max(r.rss_mb for r in runs),
    }  # fmt: skip
    print(
        f"{name:<34}{row['min']:>10,.0f}{row['median']:>10,.0f}{row['max']:>10,.0f}{row['cpu']:>9.2f}{row['rss']:>9.0f}"
    )
    return row


def throughput(scale: int, repeat: int, meltano: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp, sandbox(scale) as url:
        folder = Path(tmp)
        config = tap_config(url, folder)
        tap_run(config, folder / "warm.jsonl")  # warms the sandbox and records the requests
        records = count_records(folder / "warm.jsonl")
        sent = requests.get(f"{url}/_sandbox/requests", timeout=30).json()
        urls = [
            url + path
            for method, path in sent
            if method == "GET" and urlsplit(path).path.startswith("/call_log/interactions")
        ]
        (folder / "urls.json").write_text(json.dumps(urls))
        token = requests.post(
            f"{url}/call_log/authenticate/", json={"username": "demo", "password": "demo-password"}, timeout=30
        ).json()["token"]

        print(
            f"\n{records:,} interactions, {len(urls)} pages, {repeat} runs each; records/s (min / median / max), CPU s, peak RSS MB"
        )
        print(f"{'':<34}{'min':>10}{'median':>10}{'max':>10}{'cpu':>9}{'rss':>9}")
        alone = []
        session = requests.Session()
        for _ in range(repeat):
            start, cpu = time.perf_counter(), time.process_time()
            for page in urls:
                session.get(page, headers={"Authorization": token}, timeout=300).content  # noqa: B018
            alone.append(Measure(time.perf_counter() - start, time.process_time() - cpu, 0.0))
        summarize("(a) sandbox alone (no parsing)", alone, records)
        base_out = folder / "baseline.jsonl"
        base = [
            run_measured([sys.executable, "-m", "benchmarks.baseline", str(folder / "urls.json"), str(base_out), token])
            for _ in range(repeat)
        ]
        b = summarize("(b) baseline: orjson loop", base, records)
        taps = [tap_run(config, folder / "tap.jsonl") for _ in range(repeat)]
        c = summarize("(c) tap-liine -> file", taps, records)
        assert count_records(folder / "tap.jsonl") == count_records(base_out) == records
        if meltano:
            env = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", TAP_LIINE_API_URL=url,
                       TARGET_JSONL_DESTINATION_PATH=str(folder / "meltano"), TAP_LIINE_START_DATE="2020-01-01T00:00:00Z",
                       TAP_LIINE_CONVERSATIONS_API_KEY="", TAP_LIINE_INTERACTLY_API_KEY="",
                       TAP_LIINE_CONVERSATIONS_LOCATION_IDS="[]", TAP_LIINE_INTERACTLY_INTEGRATION_IDS="[]",
                       TAP_LIINE_CONVERSATIONS_SUBDOMAIN="")  # fmt: skip
            (folder / "meltano").mkdir()
            meltano = [run_measured([str(ROOT / ".venv-meltano/bin/meltano"), "run", "--full-refresh", "tap-liine", "target-jsonl"], env=env)
                       for _ in range(repeat)]  # fmt: skip
            summarize("(d) meltano run ... target-jsonl", meltano, records)
        print(f"ratio (c)/(b), medians: {c['median'] / b['median']:.2f}")


def latency(latency_ms: float, scale: int, window_days: int, repeat: int) -> None:
    """Sequential against concurrent on the same sandbox, with `latency_ms` added to every response."""
    print(
        f"\n{scale:,} interactions, 3 customers x 1 year, {latency_ms:.0f} ms per response, windows of {window_days} days"
    )
    with tempfile.TemporaryDirectory() as tmp, sandbox(scale, latency_ms) as url:
        folder = Path(tmp)
        times = {}
        for workers in (1, 4):
            # The sandbox's year of data ends on 2026-11-01: one year of windows, up to today.
            config = tap_config(
                url, folder, window_days=window_days, max_parallel_requests=workers, start_date="2025-11-01T00:00:00Z"
            )
            runs = [tap_run(config, folder / f"tap{workers}.jsonl") for _ in range(repeat)]
            times[workers] = statistics.median(r.wall for r in runs)
            print(
                f"  max_parallel_requests={workers}: {times[workers]:6.2f} s (median of {repeat}), {count_records(folder / f'tap{workers}.jsonl'):,} records"
            )
        assert (folder / "tap1.jsonl").read_bytes().count(b'"RECORD"') == (folder / "tap4.jsonl").read_bytes().count(
            b'"RECORD"'
        )
        print(f"  speed-up: {times[1] / times[4]:.1f}x")


def memory(scales: list[int], conversations: int) -> None:
    print("\nPeak RSS of tap-liine by number of interactions")
    for scale in scales:
        with tempfile.TemporaryDirectory() as tmp, sandbox(scale) as url:
            measure = tap_run(tap_config(url, Path(tmp)), Path(os.devnull))
            print(
                f"{scale:>12,} interactions: peak RSS {measure.rss_mb:6.0f} MB, {scale / measure.wall:,.0f} records/s"
            )
    # Messages are held only until their conversation is written, and not at all without the stream.
    print(f"\nPeak RSS of tap-liine, conversations only, 2 locations x {conversations:,} conversations")
    with tempfile.TemporaryDirectory() as tmp, sandbox(10, conversations=conversations) as url:
        folder = Path(tmp)
        config = conversations_config(url, folder)
        for label, catalog in (("with conversation_messages", None),
                               ("conversation_messages deselected", catalog_without(config, "conversation_messages", folder))):  # fmt: skip
            out = folder / "out.jsonl"
            measure = tap_run(config, out, catalog)
            records = count_records(out)
            print(
                f"{label:>34}: peak RSS {measure.rss_mb:6.0f} MB, {records:,} records, {records / measure.wall:,.0f}/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--meltano", action="store_true", help="also time meltano run tap-liine target-jsonl")
    parser.add_argument("--memory", default="", help="comma-separated scales for the memory check, e.g. 10000,1000000")
    parser.add_argument("--conversations", type=int, default=10_000, help="per location, for the memory check")
    parser.add_argument("--latency", type=float, default=0.0, help="ms per response: time sequential vs concurrent")
    parser.add_argument("--window-days", type=int, default=7, help="backfill window for --latency")
    args = parser.parse_args()
    if args.latency:
        latency(args.latency, args.scale, args.window_days, args.repeat)
    elif args.memory:
        memory([int(s) for s in args.memory.split(",")], args.conversations)
    else:
        throughput(args.scale, args.repeat, args.meltano)


if __name__ == "__main__":
    main()
