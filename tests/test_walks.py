"""Walks end only on proof, whatever the server: properties over generated server behaviours.

Each example draws a server (how it reads `count`, the cursor, page sizes, orders, clocks,
timestamp shapes, error bodies, faults, churn) and data (crowded seconds, ties, empty
lists), runs the tap against it and checks the property: every id exactly once; or a
WARNING with numbers and a state that reads the range again, so that a second run
completes it. `make test` runs a fixed seed and few examples (profile "ci");
`make fuzz` runs many more (HYPOTHESIS_PROFILE=fuzz).
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import re
import typing as t

import requests
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.readings import BY_NAME, Readings
from tap_liine.sandbox.server import FaultSchedule, SandboxServer, parse_faults
from tap_liine.windows import day_windows
from tests.helpers import Run, check_interactly_figures, liine_config, partitions, run_tap, sent

# "ci" (make test): a fixed seed, few examples, no shrinking; "fuzz" (make fuzz): many, shrunk.
# Applied to this module's properties only (other modules keep their own settings).
QUIET = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}
PROFILES = {
    "ci": settings(max_examples=15, derandomize=True, phases=[Phase.explicit, Phase.generate], **QUIET),
    "fuzz": settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")), **QUIET),
}
WALKS = PROFILES.get(os.environ.get("HYPOTHESIS_PROFILE", "ci"), PROFILES["ci"])

NUMBERS = re.compile(r"\d")


def choice(question: str) -> st.SearchStrategy[str]:
    return st.sampled_from(list(BY_NAME[question].choices))


def readings_of(*questions: str) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({q: choice(q) for q in questions})


# Which transient failures (their bodies drawn by the "errors.body" reading) every 7th request gets.
FAULT_MIXES = ("none", "all", "429,503html", "500,502,truncated")


def serve(apis: list[t.Any], readings: Readings, faults: str) -> SandboxServer:
    schedule = FaultSchedule(kinds=parse_faults(faults), every=7, retry_after=0)
    return SandboxServer(apis, faults=schedule, readings=readings).start()


def warnings_with_numbers(run: Run) -> list[str]:
    return [line for line in run.log.splitlines() if "next run" in line and NUMBERS.search(line)]


# ----- interactions ---------------------------------------------------------------------

LIINE_QUESTIONS = (
    "liine.pagination_timestamp", "liine.end_date", "liine.cursor_clock", "liine.limit", "liine.count",
    "liine.cursor", "liine.start_time", "liine.numbers", "errors.body",
)  # fmt: skip


@st.composite
def liine_servers(draw: st.DrawFn) -> dict[str, t.Any]:
    readings = draw(readings_of(*LIINE_QUESTIONS))
    cap = draw(st.sampled_from([1000, 40, 13]))  # the server's own page-size cap
    server_cap = min(cap, 300) if readings["liine.limit"] != "honoured" else cap
    return {
        "readings": readings,
        "max_limit": cap,
        "scale": draw(st.integers(0, 300)),
        "tie_rate": draw(st.sampled_from([0.0, 0.2, 0.4])),
        # A crowded second: more than a page holds, yet (types alternate) no type more than the server's largest page.
        "tie_burst": draw(st.sampled_from([0, 0, server_cap + 1, 2 * server_cap])),
        "page_size": draw(st.sampled_from([5, 11, 97, 1000])),
        "window_days": draw(st.sampled_from([4, 15, 90])),
        "faults": draw(st.sampled_from(FAULT_MIXES)),
        # Staff edit interactions while the tap pages: (requests from now, how many, which).
        "churn": draw(st.lists(st.tuples(st.integers(0, 12), st.integers(1, 5), st.integers(0, 10**6)), max_size=3)),
        # Calls come in while the tap pages: (requests from now, where: 0 starts now, k > 0 back-dated into
        # the second of the k-th newest interaction, modulo their number).
        "creation": draw(st.lists(st.tuples(st.integers(0, 12), st.just(0) | st.integers(1, 10**6)), max_size=3)),
    }


LIINE_DEFAULTS = {q: BY_NAME[q].default for q in LIINE_QUESTIONS}


@WALKS
@given(liine_servers())
@example(  # the case: a count capped like a search back end's, with more behind it
    {"readings": {**LIINE_DEFAULTS, "liine.count": "capped-100"}, "max_limit": 1000, "scale": 300, "tie_rate": 0.2,
     "tie_burst": 0, "page_size": 97, "window_days": 90, "faults": "none", "churn": [], "creation": []}
)  # fmt: skip
@example(  # calls come in: one now, one back-dated into the oldest second, after the walk has passed it
    {"readings": LIINE_DEFAULTS, "max_limit": 1000, "scale": 300, "tie_rate": 0.2, "tie_burst": 0, "page_size": 11,
     "window_days": 15, "faults": "none", "churn": [], "creation": [(2, 0), (20, 299)]}
)  # fmt: skip
def test_interactions_every_id_once_or_a_warning_and_a_state_that_reads_again(server: dict[str, t.Any]) -> None:
    readings = Readings(server["readings"])
    api = LiineApi(
        customers=[101], scale=server["scale"], days=30, tie_rate=server["tie_rate"], tie_burst=server["tie_burst"],
        max_limit=server["max_limit"], readings=readings,
    )  # fmt: skip
    sandbox = serve([api], readings, server["faults"])
    try:
        start = dt.date(2026, 9, 25)
        config = liine_config(
            sandbox.url, customer_ids=[101], start_date=f"{start}T00:00:00Z", page_size=server["page_size"],
            window_days=server["window_days"], max_retries=15,
        )  # fmt: skip
        expected = set(api.expected_ids([101], start))
        rows = api.by_customer[101]
        for after, many, which in server["churn"] if rows else []:
            changed = [rows[(which + k) % len(rows)].id for k in range(many)]
            requests.post(
                f"{sandbox.url}/_sandbox/liine/touch-later", json={"after": after, "ids": changed}, timeout=10
            )
        for after, place in server["creation"]:
            requests.post(
                f"{sandbox.url}/_sandbox/liine/create-later", json={"after": after, "places": [place]}, timeout=10
            )
        first = run_tap(config)
        ids = first.ids("interactions")
        assert len(ids) == len(set(ids)), "an id emitted twice"
        # Created during the first run and matching the filters: in this run, or (by its state) in the next.
        created = set(api.created) & set(api.expected_ids([101], start))
        if set(ids) == expected | created:
            return
        assert set(ids) <= expected | created, "an id that does not match the filters"
        if not expected <= set(ids):
            assert warnings_with_numbers(first), f"{len(expected - set(ids))} ids missing without a warning"
        second = run_tap(config, state=first.last_state)
        landed = set(ids) | set(second.ids("interactions"))
        assert expected | created <= landed <= expected | set(api.created)
    finally:
        sandbox.stop()


# ----- conversations ----------------------------------------------------------------------

CONVERSATION_QUESTIONS = (
    "conversations.order", "conversations.churn", "conversations.count", "conversations.per_page",
    "conversations.updated_since", "conversations.numbers", "errors.body",
)  # fmt: skip


CONVERSATION_DEFAULTS = {q: BY_NAME[q].default for q in CONVERSATION_QUESTIONS}


@st.composite
def conversation_servers(draw: st.DrawFn) -> dict[str, t.Any]:
    return {
        "readings": draw(readings_of(*CONVERSATION_QUESTIONS)),
        "per_location": draw(st.sampled_from([0, 1, 9, 10, 11, 57, 130])),
        "page_size": draw(st.sampled_from([3, 10, 100])),
        "faults": draw(st.sampled_from(FAULT_MIXES)),
    }


def _conversations_truth(url: str) -> tuple[dict[int, set[int]], dict[str, list[int]]]:
    """Each conversation's message ids, and what churn changed."""
    body = requests.get(f"{url}/_sandbox/conversations/truth", timeout=10).json()
    churned = requests.get(f"{url}/_sandbox/conversations/churned", timeout=10).json()
    return {c["id"]: set(c["message_ids"]) for items in body.values() for c in items}, churned


@WALKS
@given(conversation_servers())
@example(  # the case: a count lower than the rows (capped, as search back ends cap it)
    {"readings": {**CONVERSATION_DEFAULTS, "conversations.count": "capped-100"}, "per_location": 130, "page_size": 10,
     "faults": "none"}
)  # fmt: skip
def test_conversations_every_id_once_or_a_warning_and_a_state_that_reads_again(server: dict[str, t.Any]) -> None:
    readings = Readings(server["readings"])
    api = ConversationsApi(conversations_per_location=server["per_location"], max_messages=3, readings=readings)
    sandbox = serve([api], readings, server["faults"])
    try:
        config = {
            "start_date": "2024-01-01T00:00:00Z",
            "conversations_api_url": sandbox.url,
            "conversations_api_key": "demo-conversations-key",
            "conversations_subdomain": "bright-smiles",
            "conversations_location_ids": ["3001", "3002"],
            "conversations_page_size": server["page_size"],
            "retry_wait_seconds": 0.01,
            "max_retries": 15,
        }
        first = run_tap(config)
        ids = first.ids("conversations")
        assert len(ids) == len(set(ids)), "an id emitted twice"
        truth, churned = _conversations_truth(sandbox.url)
        # Rows that existed throughout the run; rows created meanwhile (now, or back-dated among the
        # pages already read) arrive in this run or, by its state, in the next one, with their messages.
        lasting = set(truth) - set(churned["create"])
        created = set(truth) & set(churned["create"])
        if lasting | created <= set(ids):
            return
        if not lasting <= set(ids):
            assert warnings_with_numbers(first), f"{len(lasting - set(ids))} ids missing without a warning"
        second = run_tap(config, state=first.last_state)
        still, _ = _conversations_truth(sandbox.url)  # churn may go on in the second run: rows deleted then
        landed = set(ids) | set(second.ids("conversations"))
        assert (lasting | created) & set(still) <= landed
        messages = set(first.ids("conversation_messages")) | set(second.ids("conversation_messages"))
        assert {m for c in created & set(still) for m in truth[c]} <= messages
    finally:
        sandbox.stop()


# ----- Interactly ------------------------------------------------------------------------

INTERACTLY_QUESTIONS = ("interactly.breakdown_size", "interactly.trend_id", "interactly.numbers", "errors.body")
INTERACTLY_START = dt.date(2026, 10, 27)  # a few days of data before the sandbox's anchor, then none
INTEGRATIONS = ("5eb7cf5a86d9755df3a6c593", "65a1b2c3d4e5f60718293a4b")


@st.composite
def interactly_servers(draw: st.DrawFn) -> dict[str, t.Any]:
    return {
        "readings": draw(readings_of(*INTERACTLY_QUESTIONS)),
        "per_day": draw(st.sampled_from([2, 40, 300])),
        "campaigns": draw(st.sampled_from([0, 150])),  # 150: more breakdown entries than a capped page holds
        "window_days": draw(st.sampled_from([1, 3, 30])),
        "faults": draw(st.sampled_from(FAULT_MIXES)),
    }


@settings(WALKS, max_examples=max(1, WALKS.max_examples // 3))
@given(interactly_servers())
@example(  # every alternative reading at once, with capped breakdown pages to follow
    {"readings": {"interactly.breakdown_size": "capped-100", "interactly.trend_id": "local-midnight",
                  "interactly.numbers": "strings", "errors.body": "documented"},
     "per_day": 300, "campaigns": 150, "window_days": 3, "faults": "all"}
)  # fmt: skip
def test_interactly_daily_figures_equal_the_truth_under_any_server(server: dict[str, t.Any]) -> None:
    readings = Readings(server["readings"])
    api = InteractlyApi(
        integrations=INTEGRATIONS, days=8, per_day=server["per_day"], campaigns=server["campaigns"], readings=readings
    )
    sandbox = serve([api], readings, server["faults"])
    try:
        config = {
            "start_date": f"{INTERACTLY_START}T00:00:00Z",
            "interactly_api_url": sandbox.url,
            "interactly_api_key": "demo-interactly-key",
            "interactly_integration_ids": list(INTEGRATIONS),
            "window_days": server["window_days"],
            "retry_wait_seconds": 0.01,
            "max_retries": 15,
        }
        run = run_tap(config)
        check_interactly_figures(sandbox.url, run, INTERACTLY_START, INTEGRATIONS)
        assert "next run" not in run.log
    finally:
        sandbox.stop()


# ----- named cases ----------------------------------------------------------------------------


def test_a_window_not_read_to_proof_keeps_the_backfill_before_it_and_the_next_run_reads_it(sandbox) -> None:
    # 25 calls in one second, pages of at most 10: calls 11 to 25 cannot be read in this run.
    server = sandbox(scale=200, customers=[101], days=60, tie_burst=25, tie_burst_type="call", max_limit=10)
    api = server.apis[0]
    start = dt.date(2026, 8, 1)
    config = liine_config(server.url, customer_ids=[101], start_date=f"{start}T00:00:00Z", page_size=10, window_days=30)
    expected = set(api.expected_ids([101], start))
    crowded = collections.Counter(r.start for r in api.by_customer[101]).most_common(1)[0][0]
    burst_day = dt.datetime.fromtimestamp(crowded, dt.timezone.utc).date()  # start_time's wall-clock day

    first = run_tap(config)

    calls = {r.id for r in api.by_customer[101] if r.start == crowded and r.type == "call"}
    missing = expected - set(first.ids("interactions"))
    assert missing <= calls and len(missing) == len(calls) - 10  # a page of them arrived
    assert warnings_with_numbers(first)
    # The first window that reads the crowded day (its own, or the day past its end) is not done.
    windows = day_windows(start, dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1), 30)
    blocked = next(k for k, w in enumerate(windows) if w.first <= burst_day <= w.last + dt.timedelta(days=1))
    assert blocked > 0
    began = first.tap.resources.run_started.isoformat()  # type: ignore[union-attr]
    assert partitions(first.last_state, "interactions")[101] == {
        "context": {"customer_id": 101},
        "backfill": {"started": began, "done_through": windows[blocked - 1].last.isoformat()},
    }

    api.max_limit = 1000  # the cause is fixed
    second = run_tap(config, state=first.last_state)
    assert expected - set(first.ids("interactions")) <= set(second.ids("interactions"))
    assert set(first.ids("interactions")) | set(second.ids("interactions")) == expected
    final = partitions(second.last_state, "interactions")[101]
    assert "backfill" not in final and final["replication_key_value"]


def test_an_inclusive_cursor_with_a_crowded_second_reads_every_id_once(sandbox) -> None:
    # "At or older than", and 25 interactions (of every type) in one second with pages of 10.
    server = sandbox(
        scale=200, customers=[101], days=60, tie_burst=25, max_limit=10, readings={"liine.cursor": "inclusive"}
    )
    start = dt.date(2026, 8, 1)
    config = liine_config(server.url, customer_ids=[101], start_date=f"{start}T00:00:00Z", page_size=10, window_days=30)

    run = run_tap(config)

    ids = run.ids("interactions")
    assert len(ids) == len(set(ids)) == len(server.apis[0].expected_ids([101], start)) == 225
    assert 'reads pagination_timestamp as "at or older than"' in run.log
    assert "next run" not in run.log


def test_a_walk_that_gets_no_older_stops_with_one_sentence_and_leaves_its_range_for_the_next_run(sandbox) -> None:
    # 25 calls in one second, pages of at most 10, and a server that answers every cursor within a
    # second of that one from that second again: only the stall stop can end the walk.
    server = sandbox(
        scale=200, customers=[101], days=60, tie_burst=25, tie_burst_type="call", max_limit=10, stuck_at_crowded=True
    )
    api = server.apis[0]
    start = dt.date(2026, 8, 1)
    config = liine_config(server.url, customer_ids=[101], start_date=f"{start}T00:00:00Z", page_size=10, window_days=30)
    crowded = collections.Counter(r.start for r in api.by_customer[101]).most_common(1)[0][0]
    crowded_at = dt.datetime.fromtimestamp(crowded, dt.timezone.utc)
    windows = day_windows(start, dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1), 30)
    stuck = next(k for k, w in enumerate(windows) if w.first <= crowded_at.date() <= w.last)
    window = windows[stuck]

    run = run_tap(config)  # it ends

    where = f"interactions, customer 101, window {window.first}..{window.last}"
    before = (crowded_at - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Ten answers in a row no older (more than the types + 5): to the cursor past the crowded second, to it
    # read "at or older than", to the four types, to it again and to three types; the fourth is never asked.
    assert (
        f"{where}: 10 requests in a row got no older than second {before} (the last page held 2 interactions); "
        "the walk stops there and at most 38 older interactions are left for the next run, which reads this "
        "range again."
    ) in run.log.splitlines()
    asked = sent(server.url, f"start_date={window.first}&")
    near = [p for p in asked if any(f"pagination_timestamp={s}" in p for s in _seconds_around(crowded_at))]
    assert (len(asked), len(near)) == (27, 16) and asked[-16:] == near
    past = _seconds_around(crowded_at)[1]
    assert near[-10].endswith(f"include_is_spam_likely=true&pagination_timestamp={past}")
    assert near[-1].endswith(f"type=online_booking&include_is_spam_likely=true&pagination_timestamp={past}")
    began = run.tap.resources.run_started.isoformat()  # type: ignore[union-attr]
    assert partitions(run.last_state, "interactions")[101] == {
        "context": {"customer_id": 101},
        "backfill": {"started": began, "done_through": windows[stuck - 1].last.isoformat()},
    }


def _seconds_around(moment: dt.datetime) -> list[str]:
    """The cursors (URL-encoded) of the second before, of and after `moment`."""
    return [(moment + dt.timedelta(seconds=d)).strftime("%Y-%m-%dT%H%%3A%M%%3A%SZ") for d in (-1, 0, 1)]


def test_a_server_ignoring_the_day_filters_ends_each_walk_on_a_page_wholly_older_than_its_window(sandbox) -> None:
    # start_date is ignored: every walk reads on into older windows until a page is wholly older than its own
    # (no count, whose cross-check would rightly doubt a server counting older interactions too).
    server = sandbox(
        scale=200, customers=[101], days=60, max_limit=10, ignores_day_filters=True, readings={"liine.count": "missing"}
    )
    api = server.apis[0]
    start = dt.date(2026, 8, 1)
    config = liine_config(server.url, customer_ids=[101], start_date=f"{start}T00:00:00Z", page_size=10, window_days=30)

    run = run_tap(config)

    ids = run.ids("interactions")
    assert len(ids) == len(set(ids)) and set(ids) == set(api.expected_ids([101], start))
    assert "next run" not in run.log
    # Each walk stops at its first page wholly older than the day before its window, not at the end of the data.
    windows = day_windows(start, dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1), 30)
    assert [len(sent(server.url, f"start_date={w.first}&")) for w in windows] == [1, 10, 15, 3, 1]


def test_interactions_created_during_an_unfinished_backfill_arrive_in_the_next_run(sandbox) -> None:
    # The backfill stops before a crowded second (25 calls, pages of at most 10); after its second window
    # was read, a late call is back-dated into that window and a new one comes in now.
    server = sandbox(scale=200, customers=[101], days=60, tie_burst=25, tie_burst_type="call", max_limit=10)
    api = server.apis[0]
    start = dt.date(2026, 8, 1)
    config = liine_config(
        server.url, customer_ids=[101], start_date=f"{start}T00:00:00Z", page_size=10, window_days=30,
        max_parallel_requests=1,  # windows one after another: the 12th request is the third window's first
    )  # fmt: skip
    expected = set(api.expected_ids([101], start))
    oldest = len(api.by_customer[101]) - 1  # in the second window (2026-08-31..2026-09-29)
    requests.post(f"{server.url}/_sandbox/liine/create-later", json={"after": 11, "places": [oldest, 0]}, timeout=10)

    first = run_tap(config)

    assert api.created == [226, 227]
    late, now = api.by_id[226], api.by_id[227]
    assert (late.start, now.start) == (api.by_customer[101][-1].start, max(r.start for r in api.by_customer[101]))
    assert 226 not in first.ids("interactions") and 227 in first.ids("interactions")
    began = first.tap.resources.run_started  # type: ignore[union-attr]
    assert partitions(first.last_state, "interactions")[101]["backfill"] == {
        "started": began.isoformat(), "done_through": "2026-09-29"
    }  # fmt: skip

    api.max_limit = 1000  # the cause is fixed
    second = run_tap(config, state=first.last_state)

    ids = second.ids("interactions")
    assert len(ids) == len(set(ids)) and 226 in ids
    assert set(first.ids("interactions")) | set(ids) == expected | {226, 227}
    # The finished windows are walked once more, first, for what changed since the backfill began (a day early).
    since = (began.date() - dt.timedelta(days=1)).isoformat()
    catch_up = sent(server.url, f"updated_date={since}&")
    assert catch_up[0] == (
        "/call_log/interactions/?customer_id=101&limit=10&start_date=2026-08-01&end_date=2026-09-30"
        f"&updated_date={since}&include_is_spam_likely=true"
    )
    assert all("&start_date=2026-08-01&end_date=2026-09-30&" in path for path in catch_up)
    assert partitions(second.last_state, "interactions")[101]["replication_key_value"] == began.isoformat()


def test_a_crowded_second_without_a_count_keeps_the_backfill_and_the_next_run_reads_it(sandbox) -> None:
    # 25 calls in one second, pages of at most 10, and no `count` to cross-check: the calls the API
    # cannot page to must keep the range for the next run, which reads them once the cause is fixed.
    server = sandbox(
        scale=200, customers=[101], days=60, tie_burst=25, tie_burst_type="call", max_limit=10,
        readings={"liine.count": "missing"},
    )  # fmt: skip
    api = server.apis[0]
    start = dt.date(2026, 8, 1)
    config = liine_config(server.url, customer_ids=[101], start_date=f"{start}T00:00:00Z", page_size=10, window_days=30)
    expected = set(api.expected_ids([101], start))
    crowded = collections.Counter(r.start for r in api.by_customer[101]).most_common(1)[0][0]
    calls = {r.id for r in api.by_customer[101] if r.start == crowded and r.type == "call"}

    first = run_tap(config)

    missing = expected - set(first.ids("interactions"))
    assert missing <= calls and len(missing) == len(calls) - 10 == 16
    assert "the next run reads this range again" in first.log
    began = first.tap.resources.run_started.isoformat()  # type: ignore[union-attr]
    assert partitions(first.last_state, "interactions")[101] == {
        "context": {"customer_id": 101},
        "backfill": {"started": began, "done_through": "2026-09-29"},
    }

    api.max_limit = 1000  # the cause is fixed
    second = run_tap(config, state=first.last_state)
    assert missing <= set(second.ids("interactions"))
    assert "next run" not in second.log


def test_a_walk_of_one_interaction_is_read_to_proof_without_a_warning(sandbox) -> None:
    # One interaction updated since the bookmark: a page of one, which no server caps at.
    server = sandbox(scale=200, customers=[101], days=60)
    api = server.apis[0]
    config = liine_config(server.url, customer_ids=[101], start_date="2026-08-01T00:00:00Z", lookback_days=0)
    state = {"bookmarks": {"interactions": {"partitions": [
        {"context": {"customer_id": 101}, "replication_key": "updated_at",
         "replication_key_value": "2026-11-29T00:00:00Z"},
    ]}}}  # fmt: skip
    touched = requests.post(f"{server.url}/_sandbox/liine/touch", json={"ids": [5]}, timeout=10).json()

    run = run_tap(config, state=state)

    assert run.ids("interactions") == [5]
    assert "may have been missed" not in run.log and "next run" not in run.log
    assert partitions(run.last_state, "interactions")[101]["replication_key_value"] == touched["updated_at"]
    assert api.by_id[5].revision == 1
