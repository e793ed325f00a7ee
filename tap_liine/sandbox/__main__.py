"""`tap-liine-sandbox`: serve the simulated APIs on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import typing as t

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.readings import Readings, table
from tap_liine.sandbox.server import FAULT_KINDS, FaultSchedule, Maintenance, SandboxServer, parse_faults


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tap-liine-sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--scale", type=int, default=10_000, help="interactions in all (default 10000)")
    parser.add_argument("--customers", default="101,202,303", help="Liine customer ids")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=365, help="days of history before 2026-11-01")
    parser.add_argument("--tie-burst", type=int, default=0, help="interactions planted in one second")
    parser.add_argument("--faults", default="none", help=f"'all', 'none' or some of {','.join(FAULT_KINDS)}")
    parser.add_argument("--fault-every", type=int, default=7, help="every Nth request fails")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds sent with 429")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every response")
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds a token lives")
    parser.add_argument(
        "--valid-until-shift", type=float, default=0.0,
        help="seconds added to the Liine login's valid_until (e.g. -18000: a naive local time)",
    )  # fmt: skip
    parser.add_argument("--clock-skew", type=float, default=0.0, help="seconds the server's Date header is off")
    parser.add_argument("--maintenance", type=float, default=0.0, help="seconds of 503 with Retry-After")
    parser.add_argument("--maintenance-after", type=int, default=0, help="API requests served before it")
    parser.add_argument(
        "--interactly-max-range-days", type=float, default=None, help="longer start..end ranges are refused (400)"
    )
    parser.add_argument("--locations", default="3001,3002", help="conversation location ids")
    parser.add_argument("--conversations", type=int, default=150, help="conversations per location")
    parser.add_argument("--statistics-days", type=int, default=120, help="days of Interactly appointments")
    parser.add_argument(
        "--reading",
        action="append",
        default=[],
        metavar="QUESTION=CHOICE",
        help="answer an open question of the API documents one way (repeatable); see --list-readings",
    )
    parser.add_argument("--list-readings", action="store_true", help="print the questions and their readings")
    return parser


def build_server(args: argparse.Namespace) -> SandboxServer:
    readings = Readings.parse(args.reading)
    apis: list[t.Any] = [
        LiineApi(
            customers=[int(c) for c in args.customers.split(",")],
            scale=args.scale,
            seed=args.seed,
            days=args.days,
            tie_burst=args.tie_burst,
            token_lifetime=args.token_lifetime,
            valid_until_shift=args.valid_until_shift,
            readings=readings,
        ),
        ConversationsApi(
            locations=args.locations.split(","),
            conversations_per_location=args.conversations,
            seed=args.seed,
            token_lifetime=args.token_lifetime,
            readings=readings,
        ),
        InteractlyApi(
            days=args.statistics_days, seed=args.seed, max_range_days=args.interactly_max_range_days, readings=readings
        ),
    ]
    faults = FaultSchedule(kinds=parse_faults(args.faults), every=args.fault_every, retry_after=args.retry_after)
    maintenance = Maintenance(seconds=args.maintenance, after=args.maintenance_after)
    return SandboxServer(
        apis,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        faults=faults,
        readings=readings,
        maintenance=maintenance,
        clock_skew=args.clock_skew,
    )


def main(argv: t.Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.list_readings:
        _print_listing(table())
        return
    try:
        server = build_server(args)
    except (ValueError, OSError) as exc:
        sys.exit(f"tap-liine-sandbox: {exc}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"tap-liine sandbox listening on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def _print_listing(text: str) -> None:
    """Print `text`; a reader that stops early (`| head`) ends the listing quietly, exit 1."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Python would fail again flushing stdout at exit: point it at nothing first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
