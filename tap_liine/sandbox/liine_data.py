"""The Liine sandbox's data: a compact index of seeded interactions and their full records.

Only a compact index (id, customer, start second, UTC offset, updated_at, type, spam flag)
is held per interaction, so a million of them fit in memory; the full ~84-field record is
rebuilt deterministically from the seed whenever it is served.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import typing as t
from decimal import Decimal

UTC = dt.timezone.utc
TYPES = ("call", "form", "online_booking", "ehr_pms_entry")
TYPE_WEIGHTS = (70, 15, 10, 5)
CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Seeded data ends here, so that every run of the same seed serves the same records.
ANCHOR = dt.datetime(2026, 11, 1, tzinfo=UTC)

CHANNELS = ("Google Organic", "Google Ads", "Facebook", "Direct", "Referral", "Yelp", "Bing Ads")
LOCATIONS = ("Raleigh", "Durham", "Cary", "Chapel Hill", "Wake Forest")
DIVISIONS = ("Plastic Surgery", "Dermatology", "Orthodontics", "General Dentistry", None)
CALL_TYPES = (
    "New Lead",
    "New Lead (Follow-Up)",
    "New Lead (First Form Follow-Up)",
    "Not A New Lead Call",
    "Voicemail",
    "Existing Patient / Previously Booked",
)
# Proportions of a busy dental practice: most calls answered, most booked patients attend; every
# value still occurs, so each category the marts read is exercised.
OUTCOMES = {"Booked": 35, "Not Booked": 40, "Booked Later": 10, None: 15}
DIRECTIONS = {"inbound": 75, "outbound": 25}
CALL_STATUSES = {"Connected": 80, "Not Connected": 12, "Busy": 5, "Error": 3}
SWITCH_STATUSES = {"Connected": 80, "Not Connected": 12, "Busy": 5, "Analyzing": 3}
REASONS = ("Price Objection", "Caller Procrastination", "Other", None)
NAMES = ("Ana García", "Brian O'Neil", "Chloé Dubois", "Dmitri Ivanov", "Eun-ji Park", "Fatima Zahra", "Gus 🦷 Smith")
INSURERS = ("Delta Dental", "Aetna", "Cigna", "MetLife", None)
PROVIDERS = ("Dr. Patel", "Dr. Nguyen", "Dr. Okafor", "Dr. Müller")
APPOINTMENT_STATUSES = {"Attended": 60, "Future Dated": 15, "Canceled / No Show": 8, "Assumed No Show": 4, "Unknown": 3,
                        None: 10}  # fmt: skip
AGENTS = ("Maria", "Jamal", None)
NAN_MARK = "__NaN__"  # written as a bare NaN by the API (see LiineApi.encoded)


@dataclasses.dataclass
class Row:
    """What the index keeps of one interaction."""

    id: int
    customer_id: int
    start: int  # local wall-clock seconds since the epoch (start_time's reading)
    offset_h: int  # customer's UTC offset: start_time_tz = start - offset
    updated_us: int  # updated_at, microseconds since the epoch, UTC
    type: str
    spam: bool
    revision: int = 0  # bumped by the admin "touch" so that changed fields differ

    @property
    def start_utc(self) -> int:
        return self.start - self.offset_h * 3600


@dataclasses.dataclass(frozen=True)
class Generation:
    """How much data to seed, and of what shape."""

    customers: tuple[int, ...] = (101, 202, 303)
    scale: int = 10_000
    seed: int = 42
    days: int = 365
    tie_rate: float = 0.15  # share of interactions starting in the same second as the previous one
    tie_burst: int = 0  # interactions planted in one second, more than a page holds
    tie_burst_type: str | None = None
    offsets: tuple[int, ...] = (-5, -4, -3)  # UTC offsets (hours), one per customer, cycling


def generate(spec: Generation) -> dict[int, list[Row]]:
    """Each customer's rows, newest start first (ties: highest id first)."""
    rng = random.Random(spec.seed)
    per_customer = max(1, spec.scale // len(spec.customers))
    anchor = int(ANCHOR.timestamp())
    next_id = 1
    out: dict[int, list[Row]] = {}
    for position, customer in enumerate(spec.customers):
        offset_h = spec.offsets[position % len(spec.offsets)]  # practices in different timezones
        n = per_customer + (spec.scale - per_customer * len(spec.customers) if position == 0 else 0)
        mean_gap = max(1, spec.days * 86400 // max(1, n))
        start = anchor + offset_h * 3600 - rng.randint(0, 600)
        rows: list[Row] = []
        burst_at = start
        for i in range(n):
            if i and rng.random() >= spec.tie_rate:
                start -= rng.randint(1, 2 * mean_gap)
            if spec.tie_burst and i == n // 2:
                burst_at = start
            updated = start - offset_h * 3600 + rng.randint(60, 3 * 86400)  # may follow the anchor
            kind = rng.choices(TYPES, TYPE_WEIGHTS)[0]
            updated_us = updated * 10**6 + rng.randint(0, 999_999)
            rows.append(Row(next_id, customer, start, offset_h, updated_us, kind, rng.random() < 0.08))
            next_id += 1
        for k in range(spec.tie_burst):
            kind = spec.tie_burst_type or TYPES[k % len(TYPES)]
            rows.append(Row(next_id, customer, burst_at, offset_h, (anchor - 86400) * 10**6, kind, False))
            next_id += 1
        rows.sort(key=lambda r: (-r.start, -r.id))
        out[customer] = rows
    return out


def format_second(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, UTC).strftime(CURSOR_FORMAT)


def format_updated(us: int) -> str:
    moment = dt.datetime.fromtimestamp(us // 10**6, UTC).replace(microsecond=us % 10**6)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def weighted(rng: random.Random, weights: dict[t.Any, int]) -> t.Any:
    return rng.choices(list(weights), list(weights.values()))[0]


def full_record(row: Row, seed: int) -> dict[str, t.Any]:
    """The full interaction, as the API documents it."""
    rng = random.Random(row.id * 7919 + seed + row.revision * 104729)
    is_call = row.type == "call"
    outcome = weighted(rng, OUTCOMES)
    has_appt = outcome in {"Booked", "Booked Later"}

    def touch(prefix: str) -> dict[str, t.Any]:
        channel = rng.choice(CHANNELS)
        tagged = channel in {"Google Ads", "Facebook", "Bing Ads"}
        return {
            f"{prefix}_marketing_channel": channel,
            f"{prefix}_location": rng.choice(LOCATIONS),
            f"{prefix}_division": rng.choice(DIVISIONS),
            f"{prefix}_keyword": rng.choice(("implants cost", "botox near me", None)),
            f"{prefix}_landing_url": f"https://practice.example/{rng.choice(('implants', 'botox', ''))}",
            f"{prefix}_referrer_url": rng.choice(("https://www.google.com/", None)),
            f"{prefix}_utm_source": rng.choice(("google", "facebook")) if tagged else None,
            f"{prefix}_utm_medium": "cpc" if tagged else None,
            f"{prefix}_utm_campaign": rng.choice(("spring_promo", "implants-q3", "Ünïcode ✓")) if tagged else None,
            f"{prefix}_utm_content": rng.choice(("ad_a", "ad_b", None)),
            f"{prefix}_session_extras": {"gclid": f"G{rng.randint(10**8, 10**9)}", "pages": rng.randint(1, 9)}
            if rng.random() < 0.5
            else None,
        }

    agent = rng.choice(AGENTS)
    return {
        "analyze_complete": rng.choice((True, False, None)) if is_call else None,
        "customer_id": row.customer_id,
        "duration": rng.randint(5, 1800) if is_call else None,
        "messaging_utilization": round(rng.uniform(0, 100), 2) if is_call and rng.random() < 0.5 else None,
        "lead_id": str(20_000_000 + row.id // 3),
        "call_id": f"{rng.getrandbits(128):032x}",
        "interaction_type": row.type,
        "direction": weighted(rng, DIRECTIONS) if is_call else "inbound",
        "phone_number": rng.choice((f"1919{rng.randint(1_000_000, 9_999_999)}", "Unknown")),
        "status": weighted(rng, CALL_STATUSES) if is_call else None,
        "session_guid": f"{rng.getrandbits(128):032x}",
        "attribution_session_guid": f"{rng.getrandbits(128):032x}" if rng.random() < 0.3 else None,
        **touch("initial"),
        **touch("last_touch"),
        "call_type": rng.choice(CALL_TYPES),
        "call_complete": rng.choice((True, False, None)),
        "call_status": weighted(rng, SWITCH_STATUSES),
        "agent": agent,
        "agent_id": {"Maria": 11, "Jamal": 12}.get(agent or ""),
        "agent_location_name": f"{agent} - Raleigh" if agent else None,
        "outcome": outcome,
        "booked_later_interaction_id": row.id + rng.randint(1, 50) if outcome == "Booked Later" else None,
        "reason_not_booked": rng.choice(REASONS) if outcome == "Not Booked" else None,
        "is_booked_later": outcome == "Booked Later",
        "intent_level": rng.choice(("3rd Party", "Not 3rd Party", "UNDECIDED", None)),
        "name": rng.choice(NAMES),
        "city": rng.choice(("Raleigh", "Durham", None)),
        "state": rng.choice(("NC", None)),
        "email": rng.choice(("lead@example.com", None)),
        "has_audio": is_call and rng.random() < 0.9,
        "voicemail": rng.random() < 0.1 if is_call else False,
        "first_time_interaction": rng.random() < 0.4,
        "is_analyzed": rng.random() < 0.9,
        "is_new": rng.choice((True, False, None)),
        "is_existing_patient": rng.choice((True, False, None)),
        "show_messaging": rng.choice((True, False, None)),
        "review_complete": rng.choice((True, False, None)),
        **{f"messaging_skill_{k}": rng.choice((True, False, None)) for k in range(1, 8)},
        "tracking_number": f"1984{rng.randint(1_000_000, 9_999_999)}",
        "start_time": format_second(row.start),
        "start_time_tz": format_second(row.start_utc),
        "updated_at": format_updated(row.updated_us),
        "id": row.id,
        "manually_created": rng.random() < 0.02,
        "helper_cell": rng.random() < 0.2,
        "google_analytics_client_id": f"{rng.randint(10**9, 10**10)}.{rng.randint(10**9, 10**10)}"
        if rng.random() < 0.3
        else None,
        "related_form_submission_id": rng.randint(1, 10**6) if row.type == "form" else None,
        "form_submission_id": rng.randint(1, 10**6) if row.type == "form" else None,
        "is_spam_likely": row.spam,
        "spam_likely_reason": rng.choice(("No IVR selection was made", "Not enough caller audio"))
        if row.spam
        else None,
        "salient_interaction": f"{rng.getrandbits(128):032x}" if row.type == "form" else None,
        "sara_lead_id_reason": "EHR/PMS patient match" if row.type == "ehr_pms_entry" else None,
        "ehr_pms_patient_id": str(rng.randint(10**5, 10**6)) if has_appt else None,
        "primary_insurance_name": rng.choice(INSURERS) if has_appt else None,
        "provider_names": rng.sample(PROVIDERS, rng.randint(1, 2)) if has_appt else None,
        "appointment_location": rng.choice(LOCATIONS) if has_appt else None,
        "appointment_status": weighted(rng, APPOINTMENT_STATUSES) if has_appt else None,
        # Revenue: a booked treatment's worth, $150 to $8,000, cents-exact (quirky() sends huge ones).
        "revenue": rng.randint(15_000, 800_000) / 100 if has_appt else None,
    }


PLANTED = "zqx"  # in every protected value when planted: no hash (hex digits) can contain it


def planted(record: dict[str, t.Any], row: Row) -> dict[str, t.Any]:
    """Distinctive caller details, for tests that no protected value goes where it must not."""
    return {
        **record,
        "name": f"{PLANTED} Caller {row.id}",
        "email": f"{PLANTED}.{row.id}@example.com",
        "phone_number": f"+1919{PLANTED}{row.id}",
    }


def quirky(record: dict[str, t.Any], row: Row) -> dict[str, t.Any]:
    """Values a lenient API might send (every 25th interaction): 0/1 in boolean fields, a
    field the document does not list, very large numbers."""
    if row.id % 25 == 0:
        record.update(
            is_new=1,
            has_audio=0,
            revenue=98_765_432_109.87,
            duration=0.5,
            api_added_field={"nested": [1, 2.5, "ü", None, {"deep": True}], "big": 2**62},
        )
    return record


def odd(record: dict[str, t.Any], row: Row) -> dict[str, t.Any]:
    """Ordinary oddities: no `updated_at` (every 40th), a null `start_time` (every 45th,
    as when a form's time zone is unknown; the API still orders it by its start), and a
    NaN `messaging_utilization` (every 50th), as Python back ends write float('nan')."""
    if row.id % 40 == 0:
        del record["updated_at"]
    if row.id % 45 == 0:
        record["start_time"] = None
    if row.id % 50 == 0:
        record["messaging_utilization"] = NAN_MARK
    return record


def mistyped(record: dict[str, t.Any], row: Row) -> dict[str, t.Any]:
    """Every 9th interaction, a patient's details in JSON types the document does not give them,
    each value distinct (by the id): phone numbers as JSON numbers (which carry a string), an email
    as a list, a name as an object and a revenue of "n/a" (which carry no string and no number)."""
    if row.id % 9 == 0:
        record.update(
            phone_number=19_195_550_000_000 + row.id,
            email=[f"planted.{row.id}@patients.example", f"second.{row.id}@patients.example"],
            name={"first": f"Plantedfirst{row.id}", "last": f"Plantedlast{row.id}"},
            revenue=f"n/a-{row.id}",
        )
    return record


def beyond_double(record: dict[str, t.Any], row: Row) -> dict[str, t.Any]:
    """Every 7th interaction: numbers a double cannot hold (`liine.precision=beyond-double`): a
    revenue of 20 and more significant digits, an id above 2^64; each distinct, by its id."""
    if row.id % 7 == 0:
        record.update(revenue=Decimal(f"9007199254740993.{row.id}01"), related_form_submission_id=2**64 + row.id)
    return record


def as_strings(value: t.Any) -> t.Any:
    """A top-level value as a Django REST back end might write it: numbers and booleans as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"  # DecimalField(decimal_places=2)
    if isinstance(value, Decimal):
        return str(value)
    return value
