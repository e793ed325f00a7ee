"""Several `dbt build`s of transform/ in one process, each after its own SQL (run by tests/test_dbt.py).

Run with the Python of a dbt utility's venv (.meltano/utilities/dbt-<adapter>/venv), which has
dbt and the warehouse's driver: `python tests/dbt_runs.py plan.json results.json`. dbt is
imported once and the project parsed once; a step with `vars` is parsed again with them.
A step: `sql` run first (the warehouse's own client), then dbt's `args`; then the tables dbt
built in `keep["from"]` are copied to `keep["to"]` and the schemas it built dropped. Results:
per step, whether dbt succeeded, each node's status (and a test's column), the messages of
nodes in error.
"""

from __future__ import annotations

import contextlib
import json
import sys
import typing as t
from pathlib import Path

from dbt.cli.main import dbtRunner


def execute(plan: dict[str, t.Any], statements: list[str], query: str | None = None) -> list[tuple[t.Any, ...]]:
    """Run the statements, then the query; its rows."""
    if plan["adapter"] == "duckdb":
        import duckdb

        with duckdb.connect(plan["path"]) as con:
            for statement in statements:
                con.execute(statement)
            return con.execute(query).fetchall() if query else []
    import psycopg2

    with contextlib.closing(psycopg2.connect(plan["dsn"])) as con, con.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        con.commit()
        if query:
            cursor.execute(query)
            return cursor.fetchall()
        return []


def keep(plan: dict[str, t.Any], source: str, target: str) -> None:
    """Copy the tables of schema `source` to `target`; drop `source` and its staging schema."""
    tables = execute(plan, [], f"select table_name from information_schema.tables where table_schema = '{source}' "
                                "and table_type = 'BASE TABLE'")  # fmt: skip
    copies = [f"create table {target}.{name} as select * from {source}.{name}" for (name,) in tables]
    drops = [f"drop schema if exists {schema} cascade" for schema in (source, f"{source}_staging")]
    execute(plan, [f"create schema {target}", *copies, *drops])


def main(plan_file: str, results_file: str) -> None:
    plan = json.loads(Path(plan_file).read_text())
    common = ["--project-dir", plan["project_dir"], "--profiles-dir", plan["profiles_dir"], "--target-path",
              plan["target_path"], "--log-path", plan["target_path"], "--quiet"]  # fmt: skip
    everywhere = plan.get("vars", {})
    parsed = dbtRunner().invoke(["parse", *common, "--vars", json.dumps(everywhere)])
    assert parsed.success, parsed.exception
    results = []
    for step in plan["steps"]:
        execute(plan, step["sql"])
        if step.get("vars"):  # parsed again: vars decide which models are enabled
            runner, chosen = dbtRunner(), {**everywhere, **step["vars"]}
        else:
            runner, chosen = dbtRunner(manifest=parsed.result), everywhere
        done = runner.invoke([*step["args"], *common, "--vars", json.dumps(chosen)])
        ran = getattr(done.result, "results", None) or []
        results.append({
            "success": done.success,
            "nodes": {r.node.unique_id: [str(r.status), getattr(r.node, "column_name", None)] for r in ran},
            "errors": [str(r.message) for r in ran if str(r.status) == "error"] + [str(done.exception or "")],
        })  # fmt: skip
        keep(plan, step["keep"]["from"], step["keep"]["to"])
    Path(results_file).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
