"""A Meltano user's set-up, as the README writes it: every command on the pinned Meltano, and a brand-new project."""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import duckdb
import psycopg
import pytest
from ruamel.yaml import YAML

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.server import SandboxServer
from tap_liine.sandbox.truth import expected_rows
from tests.helpers import expected_interactions, sent

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
MARKER = "<!-- tested: meltano commands -->"
SECRETS = {
    "liine-password.txt": "Pr0d-Liine-Secret",
    "pg-password.txt": "pg-Secret-1",
    "snowflake-passphrase.txt": "sf-Secret-2",
}

if not MELTANO.exists():
    pytest.skip("Meltano is not installed: run `make install` (make test does)", allow_module_level=True)


def readme_commands() -> list[str]:
    """The `meltano` lines of the README's code blocks marked as tested, without their comments."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(re.escape(MARKER) + r"\s*```bash\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 4, "the README's tested command blocks are missing"
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("meltano ")]


def throwaway_project(tmp_path: Path) -> Path:
    """A copy of this Meltano project that shares its installed plugins but not its state or config."""
    project = tmp_path / "project"
    (project / ".meltano").mkdir(parents=True)
    shutil.copy(ROOT / "meltano.yml", project / "meltano.yml")
    for kind in ("extractors", "loaders", "utilities"):
        (project / ".meltano" / kind).symlink_to(ROOT / ".meltano" / kind)
    (project / "transform").symlink_to(ROOT / "transform")
    for name, value in SECRETS.items():
        (project / name).write_text(value)
    return project


def meltano(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(MELTANO), *args], cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"meltano {' '.join(args)}:\n{done.stderr[-4000:]}"
    assert "deprecat" not in (done.stdout + done.stderr).lower(), done.stderr[-3000:]
    return done


def test_every_readme_command_works_as_written(tmp_path, pg) -> None:
    api = LiineApi(customers=[1234, 5678], scale=600, username="analytics@practice.example",
                   password=SECRETS["liine-password.txt"])  # fmt: skip
    project = throwaway_project(tmp_path)
    before = (project / "meltano.yml").read_text()
    env = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false")
    # Only what cannot be written in a README changes: where the database and the API are.
    local = {"db.internal": pg.host, "port 5432": f"port {pg.port}", "user loader": f"user {pg.user}",
             "database analytics": f"database {pg.database}"}  # fmt: skip
    with SandboxServer([api]) as server:
        env["TAP_LIINE_API_URL"] = server.url
        for written_command in readme_commands():
            command = written_command
            if "target-postgres" in command:
                for written, here in local.items():
                    command = command.replace(written, here)
            if command.startswith("meltano --environment=prod run") and "target-snowflake" in command:
                continue  # needs a Snowflake account: see test_snowflake.py for what is checked without one
            meltano(project, *shlex.split(command)[1:], env=env)

        expected = expected_interactions(server.url, [1234, 5678], "2025-01-01")
        walks = sent(server.url, "/interactions")

    # The last run (the analytics one-liner) continued from the state the README's `state set` wrote:
    # 2026-10-20 less lookback_days, for each customer.
    for customer in (1234, 5678):
        assert any(f"customer_id={customer}&" in p and "updated_date=2026-10-19" in p for p in walks), customer

    with psycopg.connect(pg.dsn()) as con:
        con.execute("set time zone 'UTC'")
        ids = {row[0] for row in con.execute("select id from liine.interactions")}
        tables = {row[0] for row in con.execute("select table_name from information_schema.tables "
                                                "where table_schema = 'liine'")}  # fmt: skip
        stored = con.execute(
            'select to_char(updated_at, \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') from liine.interactions where id = %s',
            (min(ids),),
        ).fetchone()
        # The analytics one-liner built the marts: Liine's from every interaction, the other
        # sources' empty (the README's `select` loaded interactions only).
        funnel = con.execute("select sum(interactions) from analytics.lead_funnel where attribution = 'first_touch'")
        in_funnel = funnel.fetchone()
        empty = [con.execute(f"select count(*) from analytics.{mart}").fetchone()
                 for mart in ("patient_response_times", "appointments_daily")]  # fmt: skip
    spam = {i for i in ids if api.record(api.by_id[i])["is_spam_likely"]}
    assert in_funnel == (len(ids - spam),) and empty == [(0,), (0,)]
    assert ids == expected and len(ids) > 500
    assert tables == {"interactions"}  # the README's `select`
    assert stored == (api.record(api.by_id[min(ids)])["updated_at"],)  # the same instant, on a New York server
    # Config set touched only what it set: every line of meltano.yml is still there; secrets are in .env.
    after = (project / "meltano.yml").read_text()
    removed = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line.startswith("- ")]
    assert removed == []
    dotenv = (project / ".env").read_text()
    for name, secret in SECRETS.items():
        assert secret in dotenv and secret not in after, name


def test_the_sandbox_keeps_its_own_secrets_after_production_ones_are_set(tmp_path) -> None:
    """`.env` gets the production password (the README's command, as written); `make demo`'s
    pipeline still runs in the sandbox environment, with the sandbox's demo credentials (up to
    its dbt step, which reads the warehouse only: test_dbt.py runs that)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo import COMMAND, meltano_env, sandbox_tap_config

    project = throwaway_project(tmp_path)
    env = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false")
    [command] = [c for c in readme_commands() if c.startswith("meltano --environment=prod config set --from-file")
                 and c.endswith("tap-liine password")]  # fmt: skip
    meltano(project, *shlex.split(command)[1:], env=env)
    dotenv = (project / ".env").read_text()
    assert SECRETS["liine-password.txt"] in dotenv and "TAP_LIINE_PASSWORD" in dotenv

    apis = [LiineApi(scale=300), ConversationsApi(conversations_per_location=20, max_messages=3),
            InteractlyApi(days=30)]  # fmt: skip
    config = {**sandbox_tap_config(), "start_date": "2026-10-01T00:00:00Z"}
    with SandboxServer(apis) as server:
        env = {**meltano_env(server.url, project / "warehouse.duckdb"), "TAP_LIINE_START_DATE": config["start_date"]}
        done = meltano(project, *[part for part in COMMAND if not part.startswith("dbt-")], env=env)
        logins = apis[0].logins
    assert logins >= 1  # the demo login, accepted: a production password would have been refused (401)
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        expected = expected_rows(apis, config)
        counts = {table: con.sql(f"select count(*) from liine.{table}").fetchone()[0] for table in expected}
    assert counts == expected
    assert SECRETS["liine-password.txt"] not in done.stdout + done.stderr


@pytest.fixture(scope="module")
def definition(dist) -> Path:
    """`make dist`'s dist/tap-liine.yml: the Hub definition whose pip_url is the wheel just built."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from dist_definition import write_definition

    return write_definition(dist)


def new_project(tmp_path: Path, definition: Path, server: SandboxServer, env: dict[str, str]) -> Path:
    """`meltano init`, tap-liine added from `definition` and configured for the sandbox's Liine."""
    subprocess.run([str(MELTANO), "init", str(tmp_path / "new"), "--no-usage-stats"], env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    project = tmp_path / "new"
    meltano(project, "add", "--plugin-type", "extractor", "tap-liine", "--from-ref", str(definition), env=env)
    settings = {
        "api_url": server.url,
        "username": "demo",
        "customer_ids": "[101]",
        "start_date": "2025-01-01T00:00:00Z",
    }
    for name, value in settings.items():
        meltano(project, "config", "set", "tap-liine", name, value, env=env)
    (project / "pw.txt").write_text("demo-password")
    meltano(project, "config", "set", "--from-file=pw.txt", "tap-liine", "password", env=env)
    return project


@pytest.fixture(scope="module")
def brand_new(tmp_path_factory, definition) -> t.Iterator[tuple[LiineApi, SandboxServer, Path, dict[str, str]]]:
    """One brand-new project with tap-liine added (new_project), for the sandbox's Liine: the
    tap runs in it as added, then the marts are added to it."""
    env = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false")
    api = LiineApi(customers=[101], scale=300)
    with SandboxServer([api]) as server:
        yield api, server, new_project(tmp_path_factory.mktemp("brand_new"), definition, server, env), env


def test_the_tap_is_added_to_a_brand_new_meltano_project_and_runs(brand_new) -> None:
    _, server, project, env = brand_new
    out = meltano(project, "invoke", "tap-liine", env=env).stdout
    expected = expected_interactions(server.url, [101], "2025-01-01")
    records = [line for line in out.splitlines() if line.startswith('{"type":"RECORD","stream":"interactions"')]
    assert len(records) == len(expected) == 300
    assert "tap_liine-0.1.0-py3-none-any.whl" in (project / "meltano.yml").read_text()


def readme_marts_section() -> dict[str, str]:
    """The blocks of the README's "Add the marts to your project": {what: text}."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- tested: marts in a new project: (\S+) -->\s*```\w+\n(.*?)```", text, flags=re.S)
    return dict(blocks)


def test_the_marts_are_added_to_a_brand_new_meltano_project_as_the_readme_says(brand_new, pg) -> None:
    """tap-liine from dist/, target-postgres and dbt-postgres with the tap_liine package, end to end."""
    blocks = readme_marts_section()
    assert sorted(blocks) == ["commands", "meltano.yml", "transform/dbt_project.yml", "transform/packages.yml",
                              "transform/profiles.yml"]  # fmt: skip
    api, server, project, env = brand_new
    # meltano.yml gets the README's plugins; transform/ its three files.
    yaml = YAML()
    config = yaml.load((project / "meltano.yml").read_text())
    for kind, plugins in yaml.load(blocks["meltano.yml"])["plugins"].items():
        config["plugins"].setdefault(kind, []).extend(plugins)
    with (project / "meltano.yml").open("w") as out:
        yaml.dump(config, out)
    (project / "transform").mkdir(exist_ok=True)  # meltano init makes it
    for name in ("dbt_project.yml", "packages.yml", "profiles.yml"):
        (project / "transform" / name).write_text(blocks[f"transform/{name}"])
    # Only what cannot be written in a README changes: where the database and the package are.
    (project / "transform" / "packages.yml").write_text(f"packages:\n  - local: {ROOT / 'transform'}\n")
    (project / "pg-password.txt").write_text("unused-with-trust-auth")
    with psycopg.connect(pg.dsn(), autocommit=True) as con:  # a database of its own on the module's server
        con.execute("create database new_project")
    local = {"db.internal": pg.host, "port 5432": f"port {pg.port}", "user loader": f"user {pg.user}",
             "database analytics": "database new_project"}  # fmt: skip
    for line in blocks["commands"].splitlines():
        command = line.split("  #")[0].strip()
        for written, here in local.items():
            command = command.replace(written, here)
        meltano(project, *shlex.split(command)[1:], env=env)
    records = [api.record(api.by_id[i]) for i in expected_interactions(server.url, [101], "2025-01-01")]
    with psycopg.connect(pg.dsn().replace(f"dbname={pg.database}", "dbname=new_project")) as con:
        marts = ("lead_funnel", "call_handling", "patient_response_times", "appointments_daily")
        counts = {mart: con.execute(f"select count(*) from analytics.{mart}").fetchone() for mart in marts}
        interactions = con.execute(
            "select sum(interactions) from analytics.lead_funnel where attribution = 'first_touch'"
        ).fetchone()
    assert interactions == (sum(not r["is_spam_likely"] for r in records),)
    assert counts["lead_funnel"] > (0,) and counts["call_handling"] > (0,)
    assert counts["patient_response_times"] == counts["appointments_daily"] == (0,)  # Liine only: built empty
    assert "DBT_POSTGRES" not in (project / ".env").read_text()  # one connection: target-postgres's
