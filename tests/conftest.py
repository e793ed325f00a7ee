"""Fixtures: sandboxes served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import subprocess
import typing as t
import uuid
from pathlib import Path

import pytest

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.readings import Readings
from tap_liine.sandbox.server import FaultSchedule, SandboxServer, parse_faults
from tests import meltano_project, postgres


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


@pytest.fixture(scope="session")
def duckdb_loaded(tmp_path_factory) -> t.Iterator[tuple[SandboxServer, Path]]:
    """All three sandbox APIs and the DuckDB file `meltano run tap-liine target-duckdb` (a full
    refresh) loaded from them: one load for every module that reads it. Never changed: the file
    is opened read-only or copied, the APIs are not touched (start a sandbox of your own)."""
    if not meltano_project.MELTANO.exists():
        pytest.skip("Meltano is not installed: run `make install` (make test does)")
    apis = [LiineApi(scale=3000), ConversationsApi(conversations_per_location=60), InteractlyApi(days=60)]
    warehouse = tmp_path_factory.mktemp("duckdb_loaded") / "warehouse.duckdb"
    with SandboxServer(apis) as server:
        env = {"TARGET_DUCKDB_FILEPATH": str(warehouse)}
        meltano_project.meltano_run(server, "tap-liine", "target-duckdb", env=env, state_id=uuid.uuid4().hex, full=True)
        assert not warehouse.with_name(warehouse.name + ".wal").exists()  # all of it is in the one file
        yield server, warehouse


@pytest.fixture(scope="session")
def postgres_loaded(duckdb_loaded) -> t.Iterator[tuple[SandboxServer, postgres.Postgres]]:
    """duckdb_loaded's APIs loaded with `meltano run tap-liine target-postgres` (meltano.yml's
    defaults) into schema `liine` of a PostgreSQL of its own (in America/New_York, as `pg`): one
    load for every module that reads it. Never changed: build in a copy (postgres.copy), load
    other schemas beside it."""
    bindir = postgres.binaries()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql-15, see README)")
    server = duckdb_loaded[0]
    for pg in postgres.start(bindir, timezone="America/New_York"):
        env = meltano_project.pg_env(pg, "liine")
        meltano_project.meltano_run(server, "tap-liine", "target-postgres", env=env, state_id=uuid.uuid4().hex)
        yield server, pg


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    """`uv build`'s wheel and sdist of this checkout, in a folder of their own (as `make dist`)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([str(meltano_project.ROOT / ".venv" / "bin" / "uv"), "build", "-q", "-o", str(out)],
                   cwd=meltano_project.ROOT, check=True, timeout=300)  # fmt: skip
    return out
