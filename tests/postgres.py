"""A throw-away PostgreSQL server for the end-to-end tests (Debian's postgresql-15 binaries)."""

from __future__ import annotations

import dataclasses
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import typing as t
from pathlib import Path

import psycopg


@dataclasses.dataclass
class Postgres:
    host: str
    port: int
    user: str
    database: str

    def dsn(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={self.database}"


def binaries() -> Path | None:
    """Where initdb and pg_ctl live, or None when PostgreSQL is not installed."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = Path(
            subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        )
        if (bindir / "initdb").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(bindir: Path, timezone: str = "UTC") -> t.Iterator[Postgres]:
    """initdb + pg_ctl start on a free port on 127.0.0.1; stopped and removed afterwards.

    As root, PostgreSQL refuses to run: it runs as the `postgres` user, in a folder it owns.
    """
    home = Path(tempfile.mkdtemp(prefix="tap-liine-pg-"))
    data, sockets = home / "data", home / "sockets"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        for path in (home, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = lambda *args: subprocess.run([*as_user, *args], capture_output=True, text=True, check=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c timezone={timezone}"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(home / "server.log"), "start")
    try:
        yield Postgres(host="127.0.0.1", port=port, user="postgres", database="postgres")
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)


def copy(pg: Postgres, name: str) -> Postgres:
    """A new database `name` on pg's server: a copy of pg's (CREATE DATABASE ... TEMPLATE), to build in."""
    with psycopg.connect(dataclasses.replace(pg, database="template1").dsn(), autocommit=True) as con:
        con.execute(f"create database {name} template {pg.database}")
    return dataclasses.replace(pg, database=name)
