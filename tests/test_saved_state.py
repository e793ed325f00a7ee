"""State the tap did not write: read as meant, or refused in one sentence before any request."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from tap_liine.errors import RunStopped
from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config, liine_config, partitions, run_cli, run_tap, sent


def _interactions_state(*partitions_: dict) -> dict:
    return {"bookmarks": {"interactions": {"partitions": list(partitions_)}}}


UNREADABLE = [
    ({"replication_key": "updated_at", "replication_key_value": "yesterday"}, "('yesterday') is not an ISO-8601"),
    ({"replication_key": "updated_at", "replication_key_value": 1764460800}, "(1764460800) is a number"),
    ({"backfill": {"started": "soon"}}, "({'started': 'soon'}) needs `started`"),
    ({"backfill": {"started": "2026-11-01T00:00:00+00:00", "done_through": "31/10/2026"}}, "`done_through` that is"),
    ({"backfill": "2026-11-01"}, "must be an object with `started`"),
]


@pytest.mark.parametrize(("entry", "said"), UNREADABLE, ids=["text", "epoch", "started", "done_through", "marker"])
def test_an_unreadable_bookmark_is_one_sentence_naming_stream_partition_and_value(sandbox, entry, said) -> None:
    server = sandbox(scale=50)
    state = _interactions_state({"context": {"customer_id": 202}, **entry})
    with pytest.raises(RunStopped) as stopped:
        TapLiine(config=liine_config(server.url), state=state)
    message = str(stopped.value)
    assert message.startswith("The ")
    assert "stream `interactions`, partition customer 202 " in message
    assert said in message
    assert "\n" not in message
    assert sent(server.url) == []


def test_the_command_stops_on_an_unreadable_bookmark_without_a_traceback(sandbox, tmp_path) -> None:
    server = sandbox(scale=50)
    state = {"bookmarks": {"conversations": {"partitions": [
        {"context": {"location_id": "3002"}, "replication_key": "updated_at", "replication_key_value": "yesterday"},
    ]}}}  # fmt: skip
    (tmp_path / "state.json").write_text(json.dumps(state))
    result = run_cli(tmp_path, all_sources_config(server.url), "--state", str(tmp_path / "state.json"))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "The bookmark of stream `conversations`, partition location 3002 ('yesterday')" in errors[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert sent(server.url) == []


def test_a_stream_level_bookmark_is_applied_to_every_partition_without_its_own(sandbox, caplog) -> None:
    server = sandbox(scale=900, customers=[101, 202, 303])
    state = {"bookmarks": {"interactions": {
        "replication_key": "updated_at",
        "replication_key_value": "2026-10-20T00:00:00Z",
        "partitions": [{"context": {"customer_id": 303}, "replication_key": "updated_at",
                        "replication_key_value": "2026-10-25T00:00:00Z"}],
    }}}  # fmt: skip
    caplog.set_level(logging.INFO, logger="tap-liine")
    run = run_tap(liine_config(server.url, lookback_days=0), state=state)

    walks = sent(server.url, "/interactions")
    for customer, day in ((101, "2026-10-20"), (202, "2026-10-20"), (303, "2026-10-25")):
        mine = [p for p in walks if f"customer_id={customer}&" in p]
        assert mine and all(f"updated_date={day}" in p and "end_date" not in p for p in mine), (customer, mine)
    assert "one bookmark for the whole stream `interactions` (2026-10-20T00:00:00Z); it is applied to its 2 " in (
        caplog.text
    )
    final = run.last_state["bookmarks"]["interactions"]
    assert "replication_key_value" not in final
    assert sorted(partitions(run.last_state, "interactions")) == [101, 202, 303]


def test_a_bookmark_in_the_future_is_warned_about_and_an_old_partition_is_ignored(sandbox, caplog) -> None:
    server = sandbox(scale=10, customers=[1], conversations={"conversations_per_location": 20})
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = {"bookmarks": {"conversations": {"partitions": [
        # Saved by a variant that kept location ids as numbers: the same location.
        {"context": {"location_id": 3001}, "replication_key": "updated_at", "replication_key_value": future},
        {"context": {"location_id": "3999"}, "replication_key": "updated_at",
         "replication_key_value": "2026-01-01T00:00:00Z"},
    ]}}}  # fmt: skip
    config = all_sources_config(server.url, conversations_location_ids=["3001", "3002"])
    config = {k: v for k, v in config.items() if k.startswith(("conversations", "start_date", "retry"))}
    caplog.set_level(logging.INFO, logger="tap-liine")

    run = run_tap(config, state=state)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"The bookmark of stream `conversations`, partition location 3001 ({future}) lies in the future: nothing "
        "updated before it is read until then. Remove it from the state to read that partition from `start_date`."
    ]
    assert "The state of stream `conversations`, partition location 3999 is ignored: that partition is no longer " \
        "configured." in caplog.text  # fmt: skip
    assert sent(server.url, "location_id=3999") == []
    assert {r["location_id"] for r in run.records("conversations")} == {"3002"}  # 3001: nothing after the bookmark
    assert sorted(partitions(run.last_state, "conversations")) == ["3001", "3002", "3999"]
