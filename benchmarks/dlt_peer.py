"""The peer: a dlt `rest_api` pipeline for the Liine interactions API, set up as a dlt user would.

Runs in a venv of its own (`.venv-dlt`, made by `make bench`), so dlt's pins never meet the
tap's. Token login with the documented `/call_log/authenticate/`, the response's
`pagination_timestamp` as the cursor, incremental on `updated_at` with merge on `id`, one
resource per customer landing in one `interactions` table. DuckDB loads jsonl files (dlt's
fast path there); PostgreSQL uses dlt's defaults.

    .venv-dlt/bin/python benchmarks/dlt_peer.py --url http://127.0.0.1:8765 --customers 101,202 \
        --start 2020-01-01T00:00:00Z --destination duckdb --schema peer --duckdb out.duckdb
"""

from __future__ import annotations

import argparse
import os
import tempfile

import dlt
import requests
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from dlt.sources.rest_api import rest_api_source


def login(url: str, username: str, password: str) -> str:
    response = requests.post(
        f"{url}/call_log/authenticate/", json={"username": username, "password": password}, timeout=60
    )
    response.raise_for_status()
    return response.json()["token"]  # already "bearer ..."


def source(url: str, customers: list[str], start: str, token: str):  # noqa: ANN201 (dlt's own type)
    return rest_api_source(
        {
            "client": {"base_url": url, "auth": APIKeyAuth(name="Authorization", api_key=token, location="header")},
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
                "table_name": "interactions",
                "endpoint": {
                    "data_selector": "interactions",
                    "paginator": {
                        "type": "cursor",
                        "cursor_path": "pagination_timestamp",
                        "cursor_param": "pagination_timestamp",
                    },
                    "incremental": {"cursor_path": "updated_at", "initial_value": start},
                },
            },
            "resources": [
                {
                    "name": f"interactions_{customer}",
                    "endpoint": {
                        "path": "call_log/interactions/",
                        "params": {
                            "customer_id": customer,
                            "limit": 1000,
                            "start_date": start[:10],
                            "include_is_spam_likely": "true",
                        },
                    },
                }
                for customer in customers
            ],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--customers", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--destination", choices=("duckdb", "postgres"), required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--duckdb", default="peer.duckdb")
    parser.add_argument("--postgres", default="")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-password")
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory() as pipelines_dir:
        if args.destination == "duckdb":
            destination, file_format = dlt.destinations.duckdb(args.duckdb), "jsonl"
        else:
            destination, file_format = dlt.destinations.postgres(args.postgres), None
        pipeline = dlt.pipeline(
            pipeline_name=f"liine_{args.schema}",
            destination=destination,
            dataset_name=args.schema,
            pipelines_dir=pipelines_dir,
        )
        token = login(args.url, args.username, args.password)
        info = pipeline.run(
            source(args.url, args.customers.split(","), args.start, token), loader_file_format=file_format
        )
        info.raise_on_failed_jobs()


if __name__ == "__main__":
    main()
