"""`appointment_statistics` and `appointment_trends` against the Interactly sandbox."""

from __future__ import annotations

import collections
import datetime as dt
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.settings import CONFIG_SCHEMA, INTEGRATION_ID_PATTERN, MEANINGS, config_errors
from tap_liine.windows import day_windows
from tests.helpers import catalog_without, run_cli, run_tap, sent

INTEGRATIONS = ["5eb7cf5a86d9755df3a6c593", "65a1b2c3d4e5f60718293a4b"]
KEY = "demo-interactly-key"
START = dt.date(2026, 7, 1)
TWO_DAYS = dt.timedelta(days=2)
DOCUMENTED_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")  # YYYY-MM-DDTHH:mm:ss.sssZ


def interactly_config(url: str, **overrides) -> dict:
    return {
        "start_date": f"{START.isoformat()}T00:00:00Z",
        "interactly_api_url": url,
        "interactly_api_key": KEY,
        "interactly_integration_ids": INTEGRATIONS,
        "retry_wait_seconds": 0.01,
        "max_retries": 10,  # the sandbox's fault schedule is far denser than a real API's
        **overrides,
    }


def _start(sandbox, **server_options):
    return sandbox(scale=10, customers=[1], extra_apis=[InteractlyApi(days=150)], **server_options)


def _truth(url: str, integration: str, kind: str) -> dict[str, int]:
    return requests.get(
        f"{url}/_sandbox/interactly/truth", params={"integration_id": integration, "appointment_type": kind}, timeout=5
    ).json()


def _days() -> list[str]:
    today = dt.datetime.now(dt.timezone.utc).date()
    return [(START + dt.timedelta(days=n)).isoformat() for n in range((today - START).days + 1)]


@pytest.mark.parametrize("types", [None, ["NP", "PROCEDURE"]], ids=["all-types", "type-filter"])
def test_daily_figures_equal_ground_truth_with_faults(sandbox, types) -> None:
    server = _start(sandbox, faults="all", every=4)
    config = interactly_config(server.url, **({"appointment_types": types} if types else {}))
    run = run_tap(config)

    kinds = types or ["all"]
    statistics = run.records("appointment_statistics")
    trends = run.records("appointment_trends")
    keys = [(r["integration_id"], r["appointment_type"], r["date"]) for r in statistics]
    assert len(keys) == len(set(keys)) == len(INTEGRATIONS) * len(kinds) * len(_days())
    trend_keys = [(r["integration_id"], r["appointment_type"], r["date"]) for r in trends]
    assert len(trend_keys) == len(set(trend_keys))
    for integration in INTEGRATIONS:
        for kind in kinds:
            truth = _truth(server.url, integration, kind)
            totals = {
                r["date"][:10]: r["total"]
                for r in statistics
                if r["integration_id"] == integration and r["appointment_type"] == kind
            }
            daily = {
                r["date"][:10]: r["successful"] + r["failed"]
                for r in trends
                if r["integration_id"] == integration and r["appointment_type"] == kind
            }
            assert sorted(totals) == _days()
            for day in _days():
                assert totals[day] == truth.get(day, 0), (integration, kind, day)
                assert daily.get(day, 0) == truth.get(day, 0), (integration, kind, day)
            assert sum(totals.values()) > 0
    # Breakdowns add up to the day's total, with the documented defaults.
    for row in statistics:
        for name in ("source", "utm_source", "utm_medium", "utm_campaign"):
            assert sum(item["count"] for item in row[name]) == row["total"]
    assert any(item["_id"] == "direct" for r in statistics for item in r["utm_source"])
    assert any(item["_id"] == "not set" for r in statistics for item in r["utm_campaign"])
    sent = [p for _, p in requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() if "statistics" in p]
    assert all("appointmentType=" in p for p in sent) == bool(types)


def test_second_run_rereads_only_the_lookback_window(sandbox) -> None:
    server = _start(sandbox)
    config = interactly_config(server.url, statistics_lookback_days=30)
    first = run_tap(config)
    today = dt.datetime.now(dt.timezone.utc).date()
    # Every partition's bookmark is the last day read (today), trends included, although
    # trends have rows only for days with appointments.
    for stream in ("appointment_statistics", "appointment_trends"):
        marks = {p["replication_key_value"][:10] for p in first.last_state["bookmarks"][stream]["partitions"]}
        assert marks == {today.isoformat()}, stream

    second = run_tap(config, state=first.last_state)

    window = {(today - dt.timedelta(days=n)).isoformat() for n in range(31)}
    assert {r["date"][:10] for r in second.records("appointment_statistics")} == window
    assert len(second.records("appointment_statistics")) == len(INTEGRATIONS) * 31
    for integration in INTEGRATIONS:
        days_with_appointments = {day for day in _truth(server.url, integration, "all") if day in window}
        trends = second.records("appointment_trends")
        trend_days = {r["date"][:10] for r in trends if r["integration_id"] == integration}
        assert trend_days == days_with_appointments and trend_days


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"interactly_integration_ids": ["5EB7CF5A86D9755DF3A6C593"]}, "5EB7CF5A86D9755DF3A6C593"),
        ({"interactly_integration_ids": ["abc"]}, "interactly_integration_ids"),
        ({"appointment_types": ["NP", "Cleaning"]}, "Cleaning"),
        ({"interactly_integration_ids": None}, "interactly_integration_ids"),
        ({"statistics_lookback_days": -2}, "statistics_lookback_days"),
    ],
)
def test_bad_interactly_settings_are_named_before_any_request(sandbox, tmp_path, change, named) -> None:
    server = _start(sandbox)
    config = {k: v for k, v in {**interactly_config(server.url), **change}.items() if v is not None}
    result = run_cli(tmp_path, config)
    assert result.returncode == 1
    assert named in result.stderr
    assert requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() == []
    assert KEY not in result.stderr


def test_wrong_key_and_unknown_integration_report_the_apis_message(sandbox, tmp_path) -> None:
    server = _start(sandbox)
    wrong_key = run_cli(tmp_path, interactly_config(server.url, interactly_api_key="ik-WRONG-999"))
    assert wrong_key.returncode == 1
    assert "401" in wrong_key.stderr and "Invalid or missing API key" in wrong_key.stderr
    assert "ik-WRONG-999" not in wrong_key.stderr + wrong_key.stdout
    assert "Traceback" not in wrong_key.stderr

    unknown = run_cli(tmp_path, interactly_config(server.url, interactly_integration_ids=["0123456789abcdef01234567"]))
    assert unknown.returncode == 1
    assert "404" in unknown.stderr and "Integration not found" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_sandbox_validates_integration_id_in_the_documented_format(sandbox) -> None:
    server = _start(sandbox)
    response = requests.get(
        f"{server.url}/integrations/v2/resource-records/XYZ/appointments/statistics",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=5,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Validation failed"
    assert body["errors"][0]["field"] == "integration_id"
    assert collections.Counter(e["field"] for e in body["errors"]) == {"integration_id": 1}


def test_trends_bucketed_at_local_midnight_lose_no_appointment_at_the_first_day(sandbox) -> None:
    # Buckets start at 04:00Z (New York's midnight): the one starting the day before start_date
    # holds start_date's first four hours.
    api = InteractlyApi(
        days=30, per_day=40, integrations=(INTEGRATIONS[0],), readings={"interactly.trend_id": "local-midnight"}
    )
    server = sandbox(scale=10, customers=[1], extra_apis=[api])
    start = dt.date(2026, 10, 20)
    config = interactly_config(
        server.url, start_date=f"{start}T00:00:00Z", interactly_integration_ids=INTEGRATIONS[:1], window_days=5
    )
    run = run_tap(config, catalog=catalog_without(config, "appointment_statistics"))

    rows = run.records("appointment_trends")
    first_bucket = dt.datetime(2026, 10, 19, 4, tzinfo=dt.timezone.utc)
    early = [a for a in api.appointments[INTEGRATIONS[0]] if start <= a.at.date() and a.at.hour < 4]
    assert early, "the data has teeth"
    assert sorted(r["date"][:10] for r in rows)[0] == "2026-10-19"
    assert len({r["date"] for r in rows}) == len(rows)
    assert sum(r["successful"] + r["failed"] for r in rows) == sum(
        a.at >= first_bucket for a in api.appointments[INTEGRATIONS[0]]
    )


UUID_INTEGRATION = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_a_range_refused_as_too_long_is_halved_until_accepted_and_kept_for_the_run(sandbox) -> None:
    # A server refusing ranges longer than 10 days; trends ask two days more on either side.
    server = sandbox(scale=10, customers=[1], extra_apis=[InteractlyApi(integrations=[UUID_INTEGRATION],
                                                                       days=150, max_range_days=10)])  # fmt: skip
    today = dt.datetime.now(dt.timezone.utc).date()
    first = today - dt.timedelta(days=59)  # two windows of 30 days
    config = interactly_config(server.url, start_date=f"{first}T00:00:00Z", window_days=30, max_parallel_requests=1,
                               interactly_integration_ids=[UUID_INTEGRATION])  # fmt: skip

    run = run_tap(config, catalog=catalog_without(config, "appointment_statistics"))

    def asked(start: dt.date, end: dt.date) -> tuple[str, str]:
        return (f"{start - TWO_DAYS}T00:00:00.000Z", f"{end + TWO_DAYS}T23:59:59.999Z")

    def parts(start: dt.date, days: int, end: dt.date) -> list[tuple[str, str]]:
        return [asked(w.first, w.last) for w in day_windows(start, end, days)]

    window_end = first + dt.timedelta(days=29)
    expected = [
        (f"{first}T00:00:00.000Z", f"{first}T00:00:00.000Z"),  # the API key's check
        asked(first, window_end),  # 34 days: refused
        asked(first, first + dt.timedelta(days=14)),  # 19: refused
        asked(first, first + dt.timedelta(days=7)),  # 12: refused
        *parts(first, 4, window_end),  # 8 days: accepted, and kept for the next window
        *parts(window_end + dt.timedelta(days=1), 4, today),
    ]
    ranges = [(q["start"][0], q["end"][0]) for q in (parse_qs(urlsplit(p).query) for p in sent(server.url))]
    assert ranges == expected
    assert all(DOCUMENTED_TIME.match(moment) for pair in ranges for moment in pair)
    assert [status for _, _, status in server.timeline].count(400) == 3
    truth = {day: n for day, n in _truth(server.url, UUID_INTEGRATION, "all").items() if day >= first.isoformat()}
    rows = {r["date"][:10]: r["successful"] + r["failed"] for r in run.records("appointment_trends")}
    assert rows == truth and sum(rows.values()) > 100
    for days in (15, 8, 4):
        assert run.said.count(f"asking for {days} days at a time from now on") == 1


def _id_errors(value: str) -> list[str]:
    config = {"start_date": "2026-01-01", "interactly_api_key": KEY, "interactly_integration_ids": [value]}
    return config_errors(config, CONFIG_SCHEMA)


@given(st.one_of(st.uuids(version=4), st.uuids(allow_nil=True), st.binary(min_size=12, max_size=12)))
def test_integration_ids_are_accepted_as_24_hexadecimal_characters_or_a_uuid_v4(value: uuid.UUID | bytes) -> None:
    shown = value.hex() if isinstance(value, bytes) else str(value)
    accepted = isinstance(value, bytes) or value.version == 4
    assert _id_errors(shown) == ([] if accepted else [
        f"Setting `interactly_integration_ids` must hold {MEANINGS[INTEGRATION_ID_PATTERN]}; {shown!r} is not."
    ])  # fmt: skip


def test_a_first_page_refused_as_invalid_is_an_error_naming_the_integration(sandbox, tmp_path) -> None:
    # Past the last page this server answers 404 "Invalid page."; on page 1 no page had rows,
    # so nothing proves an end: the run fails naming the integration rather than emitting nothing.
    server = sandbox(scale=10, customers=[1], interactly={"days": 10}, readings={"interactly.past_last_page": "404"})
    force = {"contains": f"{INTEGRATIONS[1]}/appointments/statistics?size=300&page=1&", "status": 404,
             "message": "Invalid page.", "times": 1}  # fmt: skip
    requests.post(f"{server.url}/_sandbox/force", json=force, timeout=5)
    config = interactly_config(server.url, start_date="2026-10-25T00:00:00Z", max_parallel_requests=1)

    result = run_cli(tmp_path, config, timeout=120)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "Invalid page." in line and "past the last" not in line]
    assert len(errors) == 1
    said = f"(integration {INTEGRATIONS[1]}, type all, 2026-10-25) answered 404 Not Found: Invalid page. Check"
    assert said in errors[0]
    assert "Traceback" not in result.stderr
