"""State that survives every ending: empty partitions, resumed backfills, failed runs, changes behind the walk."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from tests.helpers import all_sources_config, liine_config, liine_truth, partitions, run_cli, run_tap, sent

EMPTY_INTEGRATION = "0000000000000000000000aa"


def _moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_empty_partitions_end_with_a_bookmark_and_are_not_walked_again(sandbox) -> None:
    server = sandbox(
        scale=900,
        customers=[101],
        empty_customers=[505],
        conversations={"conversations_per_location": 30, "locations": ("3001",), "empty_locations": ("3003",)},
        interactly={
            "days": 20,
            "integrations": ("5eb7cf5a86d9755df3a6c593",),
            "empty_integrations": (EMPTY_INTEGRATION,),
        },
    )
    config = all_sources_config(
        server.url,
        customer_ids=[101, 505],
        conversations_location_ids=["3001", "3003"],
        interactly_integration_ids=["5eb7cf5a86d9755df3a6c593", EMPTY_INTEGRATION],
        start_date="2025-11-01T00:00:00Z",
    )
    first = run_tap(config)
    state = first.last_state
    began = first.tap.resources.run_started  # type: ignore[union-attr]
    for stream, key in (("interactions", 505), ("conversations", "3003"), ("conversation_messages", "3003"),
                        ("appointment_trends", EMPTY_INTEGRATION)):  # fmt: skip
        partition = partitions(state, stream)[key]
        assert "backfill" not in partition, stream
        assert _moment(partition["replication_key_value"]) <= began, stream
    assert {r["customer_id"] for r in first.records("interactions")} == {101}

    before = len(sent(server.url))
    second = run_tap(config, state=state)
    later = sent(server.url)[before:]
    # One incremental walk for the empty customer, not a window per month since start_date.
    walks = [p for p in later if "customer_id=505" in p]
    assert len(walks) == 1 and "updated_date=" in walks[0] and "end_date" not in walks[0]
    assert len([p for p in later if "location_id=3003" in p]) == 1
    assert {r["customer_id"] for r in second.records("interactions")} <= {101}


def test_resumed_backfill_with_nothing_left_reads_only_what_changed_since_it_began_and_ends_with_a_bookmark(
    sandbox,
) -> None:
    server = sandbox(scale=600, customers=[101])
    config = liine_config(server.url, customer_ids=[101], start_date="2026-10-01T00:00:00Z")
    started = "2026-11-20T08:00:00+00:00"
    tomorrow = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)).isoformat()
    # Killed just after its last window's STATE: every window done.
    state = {"bookmarks": {"interactions": {"partitions": [
        {"context": {"customer_id": 101}, "backfill": {"started": started, "done_through": tomorrow}},
    ]}}}  # fmt: skip

    run = run_tap(config, state=state)

    assert run.ids("interactions") == []
    # One walk over the finished windows for what was created or changed since (a day early: the API's day).
    end = (dt.date.fromisoformat(tomorrow) + dt.timedelta(days=1)).isoformat()
    assert sent(server.url, "/interactions") == [
        f"/call_log/interactions/?customer_id=101&limit=1000&start_date=2026-10-01&end_date={end}"
        "&updated_date=2026-11-19&include_is_spam_likely=true"
    ]
    final = partitions(run.last_state, "interactions")[101]
    assert "backfill" not in final
    assert final["replication_key_value"] == started  # the backfill's start: what changed since is read next


@pytest.mark.parametrize("stream", ["conversations", "interactions"])
def test_a_failed_run_keeps_what_finished_and_the_rerun_reads_only_the_rest(sandbox, tmp_path, stream) -> None:
    locations = ("3001", "3002", "3003")
    server = sandbox(scale=3000, conversations={"conversations_per_location": 40, "locations": locations})
    if stream == "conversations":
        config = all_sources_config(server.url, conversations_location_ids=["3001", "3002", "3003"])
        config = {k: v for k, v in config.items() if not k.startswith(("interactly", "customer", "user", "pass"))}
        failing, finished = "location_id=3003", ["3001", "3002"]
    else:
        config, failing, finished = liine_config(server.url), "customer_id=303", [101, 202]
    config["max_parallel_requests"] = 1  # partitions one after another: the first two finish
    requests.post(f"{server.url}/_sandbox/force", json={"contains": failing, "status": 403, "times": 100}, timeout=5)

    failed = run_cli(tmp_path, config)
    assert failed.returncode == 1
    states = [json.loads(line)["value"] for line in failed.stdout.splitlines() if '"type":"STATE"' in line]
    last = partitions(states[-1], stream)
    for key in finished:
        assert "backfill" not in last[key] and last[key]["replication_key_value"], key

    server.forced.clear()  # the cause is fixed
    before = len(sent(server.url))
    (tmp_path / "state.json").write_text(json.dumps(states[-1]))
    rerun = run_cli(tmp_path, config, "--state", str(tmp_path / "state.json"))
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    again = sent(server.url)[before:]
    for key in finished:
        # Finished partitions: one incremental walk each, nothing read in full again.
        mine = [p for p in again if f"{'location_id' if stream == 'conversations' else 'customer_id'}={key}&" in p]
        assert mine and all("updated_" in p for p in mine) and len(mine) <= 2, (key, mine)


def test_bookmark_never_passes_the_run_start_so_a_change_behind_the_walk_is_read_next_time(sandbox) -> None:
    server = sandbox(scale=10, customers=[1], conversations={"conversations_per_location": 60, "locations": ("3001",)})
    config = {
        "start_date": "2024-01-01T00:00:00Z",
        "conversations_api_url": server.url,
        "conversations_api_key": "demo-conversations-key",
        "conversations_subdomain": "bright-smiles",
        "conversations_location_ids": ["3001"],
        "conversations_page_size": 10,
        "lookback_days": 0,
    }
    # Conversation 5000 is on page 1; it changes once the walk has passed it, then 5045 (page 5) changes too.
    requests.post(f"{server.url}/_sandbox/conversations/add-messages-later",
                  json={"conversation_ids": [5000], "after": 2}, timeout=5)  # fmt: skip
    requests.post(f"{server.url}/_sandbox/conversations/add-messages-later",
                  json={"conversation_ids": [5045], "after": 3}, timeout=5)  # fmt: skip
    first = run_tap(config)
    assert len(first.ids("conversations")) == 60
    changed_at = _updated_at(server.url, 5000)
    bookmark = partitions(first.last_state, "conversations")["3001"]["replication_key_value"]
    assert _moment(bookmark) < _moment(changed_at)  # not the later change of 5045, which the walk saw

    second = run_tap(config, state=first.last_state)
    assert 5000 in second.ids("conversations")  # changed behind the walk: read now
    newest_of_5000 = max(m for m, c in _messages(server.url).items() if c == 5000)
    assert newest_of_5000 in second.ids("conversation_messages")


def test_interactions_bookmark_never_passes_the_run_start(sandbox) -> None:
    server = sandbox(scale=3000, customers=[101])
    bookmark = "2026-10-30T00:00:00.000000Z"
    state = {"bookmarks": {"interactions": {"partitions": [
        {"context": {"customer_id": 101}, "replication_key": "updated_at", "replication_key_value": bookmark},
    ]}}}  # fmt: skip
    # The walk is newest first: the oldest interactions change while it is still on its first pages.
    oldest = [r["id"] for r in sorted(liine_truth(server.url), key=lambda r: r["start_time"])[:3]]
    requests.post(f"{server.url}/_sandbox/liine/touch-later", json={"ids": oldest, "after": 1}, timeout=5)
    config = liine_config(server.url, customer_ids=[101], page_size=5, lookback_days=0)

    run = run_tap(config, state=state)

    assert set(oldest) <= set(run.ids("interactions"))  # read after they changed
    touched_at = next(r["updated_at"] for r in liine_truth(server.url) if r["id"] == oldest[0])
    final = partitions(run.last_state, "interactions")[101]["replication_key_value"]
    assert _moment(bookmark) < _moment(final) < _moment(touched_at)


def _updated_at(url: str, conversation: int) -> str:
    body = requests.get(f"{url}/_sandbox/conversations/truth", timeout=10).json()
    return next(c["updated_at"] for items in body.values() for c in items if c["id"] == conversation)


def _messages(url: str) -> dict[int, int]:
    body = requests.get(f"{url}/_sandbox/conversations/truth", timeout=10).json()
    return {m: c["id"] for items in body.values() for c in items for m in c["message_ids"]}
