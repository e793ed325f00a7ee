"""The marts of transform/, computed in Python from the sandbox's own data (not from any warehouse).

Each function returns {grain key: row of measures} for what a full extraction of `config`
loads; tests/test_dbt.py compares every mart, row for row, with these. Categories are read
by meaning, in any case (the Liine document spells a call's status three ways); days are the
practice's, in `zone` where the API gives a UTC instant only.
"""

from __future__ import annotations

import collections
import datetime as dt
import statistics
import typing as t
import zoneinfo
from decimal import Decimal

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi

Rows = dict[tuple[t.Any, ...], dict[str, t.Any]]
UTC = dt.timezone.utc
NO_SHOWS = ("canceled / no show", "assumed no show")
ANSWERED = ("connected", "answered", "complete")
MISSED = ("not connected", "not answered", "busy")
FUNNEL_COUNTS = ("interactions", "new_leads", "booked", "booked_later", "attended", "no_shows")
NOT_BOOKED = ("not_booked_price", "not_booked_procrastination", "not_booked_other_reason", "not_booked_no_reason")
NAMED_REASONS = {"price objection": "not_booked_price", "caller procrastination": "not_booked_procrastination"}


def _is(value: t.Any, *meanings: str) -> bool:
    return isinstance(value, str) and value.strip().lower() in meanings


def _start(config: t.Mapping[str, t.Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(config["start_date"]).replace("Z", "+00:00"))


def interactions(api: LiineApi, config: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The interactions a full extraction loads, as the API serves them, spam-likely ones left out."""
    ids = api.expected_ids(config["customer_ids"], _start(config).date())
    return [r for r in (api.record(api.by_id[i]) for i in ids) if not r["is_spam_likely"]]


def _local(record: dict[str, t.Any], zone: str) -> str:
    """The practice's wall clock (start_time), or the UTC instant in `zone` when it is missing."""
    if record["start_time"]:
        return str(record["start_time"])
    return _moment(str(record["start_time_tz"])).astimezone(zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S")


def lead_funnel(records: list[dict[str, t.Any]], zone: str) -> Rows:
    rows: Rows = {}
    for r in records:
        for attribution, prefix in (("first_touch", "initial"), ("last_touch", "last_touch")):
            key = (dt.date.fromisoformat(_local(r, zone)[:10]), attribution,
                   r[f"{prefix}_location"] or "Unknown", r[f"{prefix}_marketing_channel"] or "Unknown")  # fmt: skip
            row = rows.setdefault(key, dict.fromkeys(FUNNEL_COUNTS, 0) | {"revenue": Decimal(0)})
            row["interactions"] += 1
            row["new_leads"] += r["is_new"] is True
            row["booked"] += _is(r["outcome"], "booked")
            row["booked_later"] += _is(r["outcome"], "booked later")
            row["attended"] += _is(r["appointment_status"], "attended")
            row["no_shows"] += _is(r["appointment_status"], *NO_SHOWS)
            row["revenue"] += Decimal(str(r["revenue"] or 0))
    return rows


def call_handling(records: list[dict[str, t.Any]], zone: str) -> Rows:
    rows: Rows = {}
    measures = ("calls", "answered", "missed", "voicemails", "booked", "booked_later", "not_booked", *NOT_BOOKED)
    for r in records:
        if not _is(r["interaction_type"], "call") or not _is(r["direction"], "inbound"):
            continue
        local = _local(r, zone)
        key = (dt.date.fromisoformat(local[:10]), r["last_touch_location"] or "Unknown", r["agent"] or "Unassigned",
               int(local[11:13]))  # fmt: skip
        row = rows.setdefault(key, dict.fromkeys(measures, 0) | {"answered_seconds": Decimal(0)})
        answered = _is(r["status"], *ANSWERED)
        row["calls"] += 1
        row["answered"] += answered
        row["missed"] += _is(r["status"], *MISSED)
        row["voicemails"] += r["voicemail"] is True
        row["answered_seconds"] += Decimal(str(r["duration"] or 0)) if answered else 0
        row["booked"] += _is(r["outcome"], "booked")
        row["booked_later"] += _is(r["outcome"], "booked later")
        if _is(r["outcome"], "not booked"):
            row["not_booked"] += 1
            reason = r["reason_not_booked"]
            column = (
                "not_booked_no_reason"
                if reason is None
                else NAMED_REASONS.get(reason.strip().lower(), "not_booked_other_reason")
            )
            row[column] += 1
    return rows


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def patient_response_times(api: ConversationsApi, config: t.Mapping[str, t.Any]) -> Rows:
    """Per conversation: first patient message, first staff message after it, seconds between."""
    start = _start(config)
    since = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    rows: Rows = {}
    for location in config["conversations_location_ids"]:
        for conversation in api.conversations.get(location, []):
            if conversation.updated < start:
                continue
            loaded = [m for m in conversation.messages if m["updated_at"] >= since]
            sender = {m["id"]: (m["sender_info"] or {}).get("meta_type") for m in loaded}
            patient = [_moment(m["created_at"]) for m in loaded if _is(sender[m["id"]], "patient")]
            if not patient:
                continue
            first = min(patient)
            replies = [_moment(m["created_at"]) for m in loaded
                       if sender[m["id"]] is not None and not _is(sender[m["id"]], "patient")
                       and _moment(m["created_at"]) > first]  # fmt: skip
            reply = min(replies) if replies else None
            rows[(conversation.id,)] = {
                "location_id": location,
                "first_patient_message_at": first,
                "first_reply_at": reply,
                "response_seconds": (reply - first).total_seconds() if reply else None,
            }
    return rows


def patient_response_times_daily(per_conversation: Rows, zone: str) -> Rows:
    """Per day of the practice (in `zone`) of the first patient message and location."""
    groups: dict[tuple[t.Any, ...], list[dict[str, t.Any]]] = collections.defaultdict(list)
    for row in per_conversation.values():
        day = row["first_patient_message_at"].astimezone(zoneinfo.ZoneInfo(zone)).date()
        groups[(day, row["location_id"])].append(row)
    daily: Rows = {}
    for key, rows in groups.items():
        answered = [r["response_seconds"] for r in rows if r["response_seconds"] is not None]
        daily[key] = {"conversations": len(rows), "answered": len(answered),
                      "median_response_seconds": statistics.median(answered) if answered else None}  # fmt: skip
    return daily


def _top(values: t.Iterable[str]) -> tuple[str | None, int | None]:
    counts = collections.Counter(values)
    if not counts:
        return None, None
    value, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return value, count


def appointments_daily(api: InteractlyApi, config: t.Mapping[str, t.Any]) -> Rows:
    """Every UTC day from the start to today, per integration, type "all" (the default)."""
    first, today = _start(config).date(), dt.datetime.now(UTC).date()
    rows: Rows = {}
    for integration in config["interactly_integration_ids"]:
        by_day = collections.defaultdict(list)
        for appointment in api.appointments.get(integration, []):
            by_day[appointment.at.astimezone(UTC).date()].append(appointment)
        day = first
        while day <= today:
            chosen = by_day.get(day, [])
            top_source, top_source_count = _top(a.source for a in chosen)
            top_campaign, top_campaign_count = _top(a.utm_campaign or "not set" for a in chosen)
            rows[(integration, "all", day)] = {
                "appointments": len(chosen),
                "successful": sum(a.successful for a in chosen),
                "failed": sum(not a.successful for a in chosen),
                "top_source": top_source,
                "top_source_appointments": top_source_count,
                "top_utm_source": _top(a.utm_source or "direct" for a in chosen)[0],
                "top_utm_campaign": top_campaign,
                "top_utm_campaign_appointments": top_campaign_count,
            }
            day += dt.timedelta(days=1)
    return rows
