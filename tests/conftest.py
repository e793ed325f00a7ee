"""Fixtures: sandboxes served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import typing as t

import pytest

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.readings import Readings
from tap_liine.sandbox.server import FaultSchedule, SandboxServer, parse_faults
from tests import postgres


@pytest.fixture
def sandbox() -> t.Iterator[t.Callable[..., SandboxServer]]:
    """Start a sandbox with the given options; every one started is stopped after the test.

    Options: `faults` ("all", "none" or a list of kinds), `every`, `retry_after`,
    `latency_ms`, `readings` ({question: choice}, for every API), `conversations` and
    `interactly` (options of those APIs, which are then served too), `extra_apis`, and
    LiineApi's own (scale, customers, tie_rate, ...).
    """
    started: list[SandboxServer] = []

    def start(*, faults: str = "none", every: int = 5, retry_after: int = 0, latency_ms: float = 0.0,
              readings: t.Mapping[str, str] | None = None, conversations: dict[str, t.Any] | None = None,
              interactly: dict[str, t.Any] | None = None, extra_apis: t.Sequence[t.Any] = (),
              **liine: t.Any) -> SandboxServer:  # fmt: skip
        chosen = Readings(readings)
        apis: list[t.Any] = [LiineApi(readings=chosen, **liine)]
        if conversations is not None:
            apis.append(ConversationsApi(readings=chosen, **conversations))
        if interactly is not None:
            apis.append(InteractlyApi(readings=chosen, **interactly))
        schedule = FaultSchedule(kinds=parse_faults(faults), every=every, retry_after=retry_after)
        server = SandboxServer([*apis, *extra_apis], latency_ms=latency_ms, faults=schedule, readings=chosen).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run that collected no test fails, whatever pytest's own exit code says."""
    if session.testscollected == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="module")
def pg() -> t.Iterator[postgres.Postgres]:
    """A throw-away PostgreSQL for one test module, in America/New_York rather than UTC, as
    many self-hosted servers are: the time policy must hold whatever the server's zone."""
    bindir = postgres.binaries()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql-15, see README)")
    yield from postgres.start(bindir, timezone="America/New_York")
