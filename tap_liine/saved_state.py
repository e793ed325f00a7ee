"""The state a run is handed, checked before any request: the tap may not have written it.

A user, an orchestrator or another variant of the tap may hand over state in shapes the tap
does not write. Each bookmark (`replication_key_value`) must be an ISO-8601 date-time and each
`backfill` marker what bookmarks.py writes; anything else stops the run with one sentence
naming the stream, the partition and the value (a bookmark is no patient data), before any
request, rather than with a traceback or by reading from the wrong day (a state file whose
`bookmarks` are not objects, which the SDK cannot load, is refused before: cli_files.py). Besides:

- a stream-level bookmark (the SDK's plain shape, without partitions) is applied to every
  configured partition that has none of its own, and said once;
- a bookmark later than now is warned about: nothing updated before it is read until then;
- a partition no longer configured is kept in the state (re-adding it resumes it) and
  ignored, with a line;
- partition values are matched as text, so a location saved as 3001 is location "3001".
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_liine.bookmarks import BACKFILL, REPLICATION_KEY, REPLICATION_VALUE, partition_words
from tap_liine.errors import a_json_type
from tap_liine.instants import read_datetime

if t.TYPE_CHECKING:
    import logging

    from singer_sdk.helpers.types import TapState
    from singer_sdk.streams import Stream

PARTITIONS = "partitions"
FUTURE_SLACK = dt.timedelta(minutes=5)  # clocks differ a little


class StateProblems(ValueError):
    """The state cannot be used as it is; the message says where and why."""


def check_state(state: TapState, streams: t.Mapping[str, Stream], now: dt.datetime, logger: logging.Logger) -> None:
    """Check `state` (the tap's, in place) before any request; raise `StateProblems` if it cannot be used."""
    problems: list[str] = []
    for name, stream_state in (state.get("bookmarks") or {}).items():
        stream = streams.get(name)
        if stream is None:
            logger.info("The state's bookmarks of stream `%s` are ignored: the tap has no such stream.", name)
            continue
        if not isinstance(stream_state.get(PARTITIONS) or [], list):
            kind = a_json_type(stream_state[PARTITIONS])
            problems.append(f"The `partitions` of stream `{name}` in the state must be a list; it is {kind}.")
            continue
        configured = _configured_partitions(stream, streams)
        _spread_stream_bookmark(stream, stream_state, configured, problems, logger)
        for partition in stream_state.get(PARTITIONS) or []:
            problems += _check_partition(name, partition, configured, now, logger)
    if problems:
        raise StateProblems(
            " ".join(problems) + " Correct or remove these entries of the state (without a bookmark a partition is "
            "read from `start_date`)."
        )


def _configured_partitions(stream: Stream, streams: t.Mapping[str, Stream]) -> list[dict[str, t.Any]]:
    """The state partitions this run has for `stream` (a child stream: its parent's, by its keys)."""
    source = stream
    while source.parent_stream_type is not None:
        source = next(s for s in streams.values() if isinstance(s, source.parent_stream_type))
    keys = stream.state_partitioning_keys or ()
    return [{key: partition[key] for key in keys if key in partition} for partition in source.partitions or []]


def _spread_stream_bookmark(
    stream: Stream,
    stream_state: dict[str, t.Any],
    configured: list[dict[str, t.Any]],
    problems: list[str],
    logger: logging.Logger,
) -> None:
    """A bookmark for the whole stream becomes the bookmark of each partition without one."""
    if REPLICATION_VALUE not in stream_state or not configured:
        return  # no partition to apply it to: kept for a run that has some
    name, value = stream.name, stream_state[REPLICATION_VALUE]
    if read_datetime(value) is None:
        problems.append(f"The bookmark of stream `{name}` ({value!r}) is {_unreadable(value)}.")
        return
    own = {_key(p.get("context")) for p in stream_state.get(PARTITIONS) or [] if isinstance(p, dict)}
    missing = [context for context in configured if _key(context) not in own]
    stream_state.pop(REPLICATION_KEY, None)  # another variant may have named it differently
    stream_state.pop(REPLICATION_VALUE)
    stream_state.setdefault(PARTITIONS, []).extend(
        {"context": context, REPLICATION_KEY: stream.replication_key, REPLICATION_VALUE: value} for context in missing
    )
    logger.info(
        "The state holds one bookmark for the whole stream `%s` (%s); it is applied to %s.",
        name, value, f"its {len(missing)} partitions without one of their own" if missing else "no partition: "
        "each has its own",
    )  # fmt: skip


def _check_partition(
    name: str, partition: t.Any, configured: list[dict[str, t.Any]], now: dt.datetime, logger: logging.Logger
) -> list[str]:
    """What is wrong with one partition's state; a bookmark in the future or a partition no longer
    configured is said here."""
    context = partition.get("context") if isinstance(partition, dict) else None
    if not isinstance(context, dict):
        return [f"A partition in the state of stream `{name}` has no `context` object: {_clip(partition)}."]
    match = next((c for c in configured if _key(c) == _key(context)), None)
    where = f"stream `{name}`, partition {partition_words(context)}"
    if match is None:
        logger.info("The state of %s is ignored: that partition is no longer configured.", where)
        return []
    problems = []
    partition["context"] = match  # the configured spelling (a location saved as 3001 is "3001")
    value = partition.get(REPLICATION_VALUE)
    if value is not None:
        moment = read_datetime(value)
        if moment is None:
            problems.append(f"The bookmark of {where} ({value!r}) is {_unreadable(value)}.")
        elif moment > now + FUTURE_SLACK:
            logger.warning(
                "The bookmark of %s (%s) lies in the future: nothing updated before it is read until then. "
                "Remove it from the state to read that partition from `start_date`.",
                where, value,
            )  # fmt: skip
    if BACKFILL in partition:
        problem = _backfill_problem(partition[BACKFILL])
        if problem:
            problems.append(f"The backfill marker of {where} ({_clip(partition[BACKFILL])}) {problem}.")
    return problems


def _backfill_problem(marker: t.Any) -> str | None:
    """What is wrong with a `backfill` marker ({"started": date-time, "done_through": date}), if anything."""
    if not isinstance(marker, dict):
        return f"must be an object with `started` and `done_through`; it is {a_json_type(marker)}"
    if read_datetime(marker.get("started")) is None:
        return "needs `started`, an ISO-8601 date-time such as 2026-01-31T08:00:00+00:00"
    done = marker.get("done_through")
    if done is not None:
        try:
            dt.date.fromisoformat(done)
        except (TypeError, ValueError):
            return "has a `done_through` that is no date such as 2026-01-31"
    return None


def _unreadable(value: t.Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number, not an ISO-8601 date-time such as 2026-01-31T00:00:00Z (epoch seconds are not read)"
    return "not an ISO-8601 date-time such as 2026-01-31T00:00:00Z"


def _key(context: t.Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in context.items())) if isinstance(context, dict) else ()


def _clip(value: t.Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
