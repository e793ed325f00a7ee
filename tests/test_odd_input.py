"""Odd values crash nothing; settings as users write them; errors that say what they are about; no endless loops."""

from __future__ import annotations

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import FatalAPIError

from tap_liine.settings import CONFIG_SCHEMA, config_errors
from tests.helpers import all_sources_config, liine_config, liine_truth, partitions, run_cli, run_tap, sent


def test_odd_values_are_emitted_and_the_run_goes_on(sandbox) -> None:
    server = sandbox(scale=1200, customers=[101], odd_values=True)
    run = run_tap(liine_config(server.url, customer_ids=[101]))

    records = {r["id"]: r for r in run.records("interactions")}
    truth = liine_truth(server.url)
    assert sorted(records) == sorted(r["id"] for r in truth)
    assert all("updated_at" not in records[i] for i in records if i % 40 == 0)
    assert all(records[i]["start_time"] is None for i in records if i % 45 == 0)
    nan_ids = [i for i in records if i % 50 == 0]
    assert nan_ids and all(records[i]["messaging_utilization"] is None for i in nan_ids)
    nan = "sent NaN, which JSON does not allow; such values are emitted as null"
    assert run.said.count(nan) == 1
    assert run.log.count(nan) == 2  # and once in the run summary
    # The bookmark ignores the records without updated_at: the newest of the others.
    newest = max(r["updated_at"] for r in truth if r["id"] % 40)
    assert partitions(run.last_state, "interactions")[101]["replication_key_value"] == newest


def test_interaction_filters_are_sent_in_the_apis_spelling(sandbox) -> None:
    server = sandbox(scale=1500, customers=[101])
    filters = {"intent_level": [None, "3rd Party"], "first_time_interaction": True}
    run = run_tap(liine_config(server.url, customer_ids=[101], interaction_filters=filters))

    queries = sent(server.url, "/interactions")
    assert queries and all("intent_level=null&intent_level=3rd+Party" in q for q in queries)
    assert all("first_time_interaction=true" in q for q in queries)
    expected = set()
    for row in liine_truth(server.url):
        record = requests.get(f"{server.url}/_sandbox/liine/record?id={row['id']}", timeout=5).json()
        if record["intent_level"] in (None, "3rd Party") and record["first_time_interaction"] is True:
            expected.add(row["id"])
    assert expected and set(run.ids("interactions")) == expected


DUPLICATES = [
    ({"appointment_types": ["NP", "F/U", "NP"]}, "appointment_types", "'NP'"),
    ({"interaction_types": ["call", "call"]}, "interaction_types", "'call'"),
    ({"customer_ids": [101, 202, 101]}, "customer_ids", "101"),
    ({"interactly_integration_ids": ["5eb7cf5a86d9755df3a6c593"] * 2}, "interactly_integration_ids", "5eb7cf5a"),
    ({"conversations_location_ids": ["3001", "3001"]}, "conversations_location_ids", "'3001'"),
    ({"conversations_location_ids": [3001, "3001"]}, "conversations_location_ids", "3001 (as 3001 and '3001')"),
]


@pytest.mark.parametrize(
    ("change", "setting", "shown"), DUPLICATES, ids=[f"{d[1]}-{n}" for n, d in enumerate(DUPLICATES)]
)
def test_duplicate_list_entries_are_refused_before_any_request(sandbox, tmp_path, change, setting, shown) -> None:
    server = sandbox(scale=50)
    result = run_cli(tmp_path, all_sources_config(server.url, **change))
    assert result.returncode == 1
    line = next(line for line in result.stderr.splitlines() if f"`{setting}`" in line)
    assert "more than once" in line and shown in line
    assert sent(server.url) == []
    assert "Traceback" not in result.stderr


# Each id list, the ids it accepts, and the spellings of one id the tap reads alike.
SPELLINGS = {
    "customer_ids": (st.integers(1, 10**6), lambda i: st.sampled_from([i, float(i)])),
    "conversations_location_ids": (st.integers(1, 10**6), lambda i: st.sampled_from([i, str(i), float(i)])),
    "interactly_integration_ids": (st.text("0123456789abcdef", min_size=24, max_size=24), st.just),
}


@settings(max_examples=100, derandomize=True, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(SPELLINGS)))
def test_ids_that_the_tap_reads_alike_are_refused_as_duplicates(data, name) -> None:
    ids_of, spellings = SPELLINGS[name]
    ids = data.draw(st.lists(ids_of, min_size=1, max_size=5, unique=True))
    counts = data.draw(st.lists(st.integers(1, 3), min_size=len(ids), max_size=len(ids)))
    written = [(i, data.draw(spellings(i))) for i, times in zip(ids, counts, strict=True) for _ in range(times)]
    written = data.draw(st.permutations(written))
    config = {**all_sources_config("http://127.0.0.1:1"), name: [value for _, value in written]}

    errors = config_errors(config, CONFIG_SCHEMA)

    shown = []  # each repeated id once, in the order first listed, with its spellings if they differ
    for i in dict.fromkeys(i for i, _ in written):
        spelt = list(dict.fromkeys(repr(value) for j, value in written if j == i))
        if counts[ids.index(i)] > 1:
            shown.append(spelt[0] if len(spelt) == 1 else f"{spelt[0]} (as {' and '.join(spelt)})")
    assert errors == ([f"Setting `{name}` lists {', '.join(shown)} more than once."] if shown else [])


@pytest.mark.parametrize("secret", ["password", "conversations_api_key", "interactly_api_key"])
@pytest.mark.parametrize("value", [987654321, ["k-1234567"], {"key": "k-1234567"}, True])
def test_a_secret_of_the_wrong_type_is_named_but_never_echoed(sandbox, tmp_path, secret, value) -> None:
    server = sandbox(scale=50)
    result = run_cli(tmp_path, all_sources_config(server.url, **{secret: value}))
    assert result.returncode == 1
    assert f"`{secret}` must be a string" in result.stderr
    for shown in ("987654321", "k-1234567", "True"):
        assert shown not in result.stderr + result.stdout
    assert sent(server.url) == []


def test_a_4xx_names_the_integration_and_the_real_path(sandbox, tmp_path) -> None:
    unknown = "0123456789abcdef01234567"
    server = sandbox(scale=10, customers=[1], interactly={"days": 10})
    config = {
        "start_date": "2026-11-01T00:00:00Z",
        "interactly_api_url": server.url,
        "interactly_api_key": "demo-interactly-key",
        "interactly_integration_ids": ["5eb7cf5a86d9755df3a6c593", unknown],
        "retry_wait_seconds": 0.01,
    }
    result = run_cli(tmp_path, config)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "| ERROR" in line and "404" in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert f"/integrations/v2/resource-records/{unknown}/appointments/statistics" in errors[0]
    assert f"(integration {unknown}, type all" in errors[0]
    assert "{integration_id}" not in errors[0] and "Traceback" not in result.stderr


def test_a_4xx_names_the_customer(sandbox, tmp_path) -> None:
    server = sandbox(scale=300, customers=[101])
    result = run_cli(tmp_path, liine_config(server.url, customer_ids=[101, 999], max_parallel_requests=1))
    assert result.returncode == 1
    error = next(line for line in result.stderr.splitlines() if "| ERROR" in line and "403" in line)
    assert "GET /call_log/interactions/ (customer 999" in error
    assert "You do not have permission to access customer 999" in error


def test_a_4xx_names_the_location(sandbox, tmp_path) -> None:
    server = sandbox(scale=10, customers=[1], conversations={"conversations_per_location": 20})
    requests.post(f"{server.url}/_sandbox/force", json={"contains": "location_id=3002", "status": 403}, timeout=5)
    config = all_sources_config(server.url)
    config = {k: v for k, v in config.items() if k.startswith(("conversations", "start_date", "retry"))}
    result = run_cli(tmp_path, config)
    assert result.returncode == 1
    error = next(line for line in result.stderr.splitlines() if "| ERROR" in line and "403" in line)
    assert "Conversations GET /conversations (location 3002) answered 403" in error


@pytest.mark.parametrize("api", ["conversations", "interactly"])
def test_a_server_that_ignores_page_fails_clearly_instead_of_looping(sandbox, tmp_path, api) -> None:
    options = {"ignore_page": True}
    if api == "conversations":
        server = sandbox(scale=10, customers=[1], conversations={**options, "conversations_per_location": 60})
        config = {k: v for k, v in all_sources_config(server.url, conversations_page_size=10).items()
                  if k.startswith(("conversations", "start_date", "retry"))}  # fmt: skip
    else:
        # Pages capped at 100 entries: the tap must ask for page 2, and gets page 1 again.
        server = sandbox(
            scale=10,
            customers=[1],
            interactly={**options, "days": 5, "per_day": 400, "campaigns": 240},
            readings={"interactly.breakdown_size": "capped-100"},
        )
        config = {k: v for k, v in all_sources_config(server.url, start_date="2026-10-28T00:00:00Z").items()
                  if k.startswith(("interactly", "start_date", "retry"))}  # fmt: skip
        config["interactly_integration_ids"] = ["5eb7cf5a86d9755df3a6c593"]
    result = run_cli(tmp_path, config, timeout=120)
    assert result.returncode == 1
    assert "came back identical to page 1" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("status", [404, 400])
def test_invalid_page_ends_a_list_only_after_pages_with_rows(sandbox, status) -> None:
    server = sandbox(
        scale=10,
        customers=[1],
        conversations={"conversations_per_location": 25},
        readings={"conversations.past_last_page": str(status), "conversations.count": "missing"},
    )
    config = {k: v for k, v in all_sources_config(server.url, conversations_page_size=10).items()
              if k.startswith(("conversations", "start_date", "retry"))}  # fmt: skip
    # Location 3002 refuses its first page with the same words: no proof of an end, an error.
    force = {"contains": "location_id=3002&page=1&", "status": status, "message": "Invalid page.", "times": 1}
    requests.post(f"{server.url}/_sandbox/force", json=force, timeout=5)
    refused = rf"\(location 3002\) answered {status} .*: Invalid page\."
    with pytest.raises(FatalAPIError, match=refused):
        run_tap(config)
    before = len(sent(server.url))

    run = run_tap(config)

    truth = requests.get(f"{server.url}/_sandbox/conversations/truth", timeout=10).json()
    assert sorted(run.ids("conversations")) == sorted(c["id"] for items in truth.values() for c in items)
    # Each pass of 3 pages ends on the refused 4th; without a total, a second pass checks the first.
    fourth_pages = [p for p in sent(server.url)[before:] if "page=4&" in p]
    assert len(fourth_pages) == 4 and all("location_id=300" in p for p in fourth_pages)


@pytest.mark.parametrize(
    ("setting", "base_url"),
    [("api_url", "https://app.liine.com"), ("conversations_api_url", "https://nexhealth.info"),
     ("interactly_api_url", "https://api.interactly.ai")],
)  # fmt: skip
def test_a_bad_api_url_is_explained_with_that_apis_own_base_url(setting, base_url) -> None:
    assert CONFIG_SCHEMA["properties"][setting]["default"] == base_url  # each API's documented base URL
    errors = config_errors({"start_date": "2025-01-01T00:00:00Z", setting: "nexhealth.info"}, CONFIG_SCHEMA)
    assert errors[0] == f"Setting `{setting}` must hold an http(s) URL such as {base_url}; 'nexhealth.info' is not."
