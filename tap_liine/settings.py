"""Settings: the JSON schema users configure (a public contract) and its semantic checks.

The SDK validates types against the schema; `semantic_errors` adds what a schema cannot
say (dates that parse, ids of the right shape, credentials that come in pairs), so that
every bad setting is reported before any request is sent.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import urlsplit

import pendulum
from singer_sdk import typing as th

INTERACTION_TYPES = ("call", "form", "online_booking", "ehr_pms_entry")
APPOINTMENT_TYPES = ("NP", "F/U", "ASC_FU", "FU Tele", "PROCEDURE", "PROV_USE", "RAP_ACCESS")
INTEGRATION_ID = re.compile(r"^[0-9a-f]{24}$")
MAX_PAGE_SIZE = 1000
MAX_CONVERSATIONS_PAGE = 100

CONFIG_SCHEMA = th.PropertiesList(
    # --- all sources
    th.Property(
        "start_date",
        th.DateTimeType,
        required=True,
        title="Start date",
        description="Earliest data to extract on a first run (ISO-8601, e.g. 2025-01-01T00:00:00Z). "
        "Later runs continue from the saved state.",
    ),
    th.Property(
        "lookback_days",
        th.IntegerType,
        default=1,
        title="Lookback days",
        description="Days before each saved bookmark that an incremental run of `interactions` and "
        "`conversations` re-reads, to catch late updates.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=5,
        title="Maximum tries",
        description="Attempts per request before a retriable error (429, 5xx, timeout, reset, "
        "unreadable body) fails the run.",
    ),
    th.Property(
        "retry_wait_seconds",
        th.NumberType,
        default=2.0,
        title="First retry wait",
        description="Seconds to wait before the first retry; each further retry waits twice as long. "
        "A 429's Retry-After header overrides it.",
    ),
    th.Property(
        "window_days",
        th.IntegerType,
        default=30,
        title="Backfill window (days)",
        description="A first run reads `interactions` and the Interactly trends in windows of this many days, "
        "oldest first, and saves its progress after each one: a killed backfill resumes with the next window.",
    ),
    th.Property(
        "max_parallel_requests",
        th.IntegerType,
        default=4,
        title="Parallel requests",
        description="Windows and days are fetched this many at a time (1 = one request after another). "
        "Records and state come out in order either way.",
    ),
    th.Property(
        "max_requests_per_second",
        th.NumberType,
        default=0,
        title="Requests per second",
        description="Cap on requests per second across all streams and threads (0 = no cap).",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=300,
        title="Request timeout",
        description="Seconds to wait for a response before retrying the request.",
    ),
    # --- Liine
    th.Property(
        "api_url",
        th.URIType,
        default="https://app.liine.com",
        title="Liine API URL",
        description="Base URL of the Liine API.",
    ),
    th.Property("username", th.StringType, title="Liine username", description="Liine dashboard login."),
    th.Property(
        "password",
        th.StringType,
        secret=True,
        title="Liine password",
        description="Password of the Liine dashboard login; exchanged for a JWT at /call_log/authenticate/.",
    ),
    th.Property(
        "customer_ids",
        th.ArrayType(th.IntegerType),
        title="Liine customer ids",
        description="Liine customers to extract (ask Liine support for them); one state partition each.",
    ),
    th.Property(
        "include_spam",
        th.BooleanType,
        default=True,
        title="Include spam-likely interactions",
        description="Also extract interactions Liine marks as likely spam (the flag `is_spam_likely` "
        "tells them apart). When false the parameter is omitted, as the API counts it when present at all.",
    ),
    th.Property(
        "interaction_types",
        th.ArrayType(th.StringType),
        title="Interaction types",
        description="Only these interaction types: call, form, online_booking, ehr_pms_entry (default: all).",
    ),
    th.Property(
        "interaction_filters",
        th.ObjectType(additional_properties=True),
        default={},
        title="Further interaction filters",
        description="Further documented query parameters of /call_log/interactions/ (e.g. "
        '{"direction": ["inbound"], "duration_min": 30}), sent verbatim; lists are sent as repeated parameters.',
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=MAX_PAGE_SIZE,
        title="Interactions per page",
        description="`limit` sent to the interactions endpoint (1 to 1000).",
    ),
    # --- patient conversations
    th.Property(
        "conversations_api_url",
        th.URIType,
        default="https://nexhealth.info",
        title="Conversations API URL",
        description="Base URL of the patient-conversations API.",
    ),
    th.Property(
        "conversations_api_key",
        th.StringType,
        secret=True,
        title="Conversations API key",
        description="API key, exchanged at POST /authenticates for a bearer token that the tap renews "
        "before it expires.",
    ),
    th.Property(
        "conversations_subdomain",
        th.StringType,
        title="Conversations subdomain",
        description="The institution's subdomain, sent with every request to scope it.",
    ),
    th.Property(
        "conversations_location_ids",
        th.ArrayType(th.StringType),
        title="Conversations location ids",
        description="Locations whose conversations to extract; one state partition each.",
    ),
    th.Property(
        "conversations_page_size",
        th.IntegerType,
        default=MAX_CONVERSATIONS_PAGE,
        title="Conversations per page",
        description="`per_page` sent to /conversations (1 to 100).",
    ),
    # --- Interactly
    th.Property(
        "interactly_api_url",
        th.URIType,
        default="https://api.interactly.ai",
        title="Interactly API URL",
        description="Base URL of the Interactly API.",
    ),
    th.Property(
        "interactly_api_key",
        th.StringType,
        secret=True,
        title="Interactly API key",
        description="API key from the Interactly dashboard, sent as `Authorization: Bearer <key>`.",
    ),
    th.Property(
        "interactly_integration_ids",
        th.ArrayType(th.StringType),
        title="Interactly integration ids",
        description="Integrations whose appointment statistics to extract (24 lowercase hex characters each).",
    ),
    th.Property(
        "appointment_types",
        th.ArrayType(th.StringType),
        title="Appointment types",
        description="Appointment types to extract separately (NP, F/U, ASC_FU, FU Tele, PROCEDURE, PROV_USE, "
        'RAP_ACCESS); one state partition each. Default: all types together, as appointment_type "all".',
    ),
    th.Property(
        "statistics_lookback_days",
        th.IntegerType,
        default=7,
        title="Statistics lookback days",
        description="Days before the bookmark that an incremental run of the Interactly streams re-reads, "
        "because dashboard figures change after the fact.",
    ),
)

SECRET_SETTINGS = ("password", "conversations_api_key", "interactly_api_key")
URL_SETTINGS = ("api_url", "conversations_api_url", "interactly_api_url")


def semantic_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Every problem with `config` that its JSON schema cannot express, one paragraph each."""
    errors: list[str] = []
    start = config.get("start_date")
    if isinstance(start, str):
        try:
            pendulum.parse(start)
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            errors.append(
                f"Setting `start_date` must be an ISO-8601 date-time such as 2025-01-01T00:00:00Z; got {start!r}."
            )
    for name in ("lookback_days", "statistics_lookback_days", "max_retries", "window_days", "max_parallel_requests"):
        value = config.get(name)
        if isinstance(value, int) and value < (0 if "lookback" in name else 1):
            errors.append(
                f"Setting `{name}` must be {'0 or more' if 'lookback' in name else '1 or more'}; got {value}."
            )
    for name in ("retry_wait_seconds", "request_timeout", "max_requests_per_second"):
        value = config.get(name)
        if isinstance(value, (int, float)) and value <= (0 if name == "request_timeout" else -1e-9):
            errors.append(f"Setting `{name}` must be a positive number of seconds; got {value}.")
    for name in URL_SETTINGS:
        value = config.get(name)
        if value is not None and not _is_http_url(value):
            errors.append(f"Setting `{name}` must be an http(s) URL such as https://app.liine.com; got {value!r}.")
    errors += _liine_errors(config)
    errors += _conversations_errors(config)
    errors += _interactly_errors(config)
    return errors


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and " " not in value


def _liine_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    errors: list[str] = []
    customers = config.get("customer_ids")
    if customers is not None:
        if not isinstance(customers, list) or not customers:
            errors.append("Setting `customer_ids` must be a non-empty list of Liine customer ids (integers).")
        else:
            bad = [c for c in customers if isinstance(c, bool) or not isinstance(c, int) or c <= 0]
            if bad:
                errors.append(f"Setting `customer_ids` must hold positive integers only; these are not: {bad!r}.")
            if len(set(map(str, customers))) != len(customers):
                errors.append(f"Setting `customer_ids` lists a customer more than once: {customers!r}.")
        for name in ("username", "password"):
            if not config.get(name):
                errors.append(
                    f"Setting `{name}` is required when `customer_ids` is set: the tap logs in to Liine "
                    "with `username` and `password` to extract interactions."
                )
    elif config.get("username") or config.get("password"):
        errors.append(
            "Setting `customer_ids` is required when Liine credentials are set: list the Liine "
            "customers to extract (ask Liine support for the ids)."
        )
    types = config.get("interaction_types")
    if types is not None:
        unknown = [v for v in types if v not in INTERACTION_TYPES] if isinstance(types, list) else [types]
        if unknown or not types:
            errors.append(
                f"Setting `interaction_types` accepts {', '.join(INTERACTION_TYPES)}; "
                f"{'it is empty' if not types else f'unknown: {unknown!r}'}."
            )
    size = config.get("page_size")
    if isinstance(size, int) and not 1 <= size <= MAX_PAGE_SIZE:
        errors.append(f"Setting `page_size` must be between 1 and {MAX_PAGE_SIZE}; got {size}.")
    filters = config.get("interaction_filters") or {}
    reserved = {"customer_id", "customer_ids", "pagination_timestamp", "limit", "start_date", "end_date",
                "updated_date", "type", "include_is_spam_likely"}  # fmt: skip
    clash = sorted(reserved & set(filters))
    if clash:
        errors.append(
            f"Setting `interaction_filters` may not set {clash}: the tap sets these itself "
            "(use `customer_ids`, `start_date`, `interaction_types`, `include_spam` or `page_size`)."
        )
    return errors


def _conversations_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    errors: list[str] = []
    names = ("conversations_api_key", "conversations_subdomain", "conversations_location_ids")
    given = [name for name in names if config.get(name) not in (None, "", [])]
    if given:
        for name in names:
            if name not in given:
                errors.append(
                    f"Setting `{name}` is required when {', '.join(f'`{g}`' for g in given)} "
                    f"{'is' if len(given) == 1 else 'are'} set: the conversations API needs the key, "
                    "the subdomain and at least one location id."
                )
    locations = config.get("conversations_location_ids")
    if isinstance(locations, list):
        bad = [v for v in locations if not isinstance(v, str) or not v.strip()]
        if bad:
            errors.append(f"Setting `conversations_location_ids` must hold non-empty strings; these are not: {bad!r}.")
        elif len(set(locations)) != len(locations):
            errors.append(f"Setting `conversations_location_ids` lists a location more than once: {locations!r}.")
    size = config.get("conversations_page_size")
    if isinstance(size, int) and not 1 <= size <= MAX_CONVERSATIONS_PAGE:
        errors.append(f"Setting `conversations_page_size` must be between 1 and {MAX_CONVERSATIONS_PAGE}; got {size}.")
    return errors


def _interactly_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    errors: list[str] = []
    key, ids = config.get("interactly_api_key"), config.get("interactly_integration_ids")
    if key and not ids:
        errors.append(
            "Setting `interactly_integration_ids` is required when `interactly_api_key` is set: "
            "list the integrations whose appointment statistics to extract."
        )
    if ids and not key:
        errors.append("Setting `interactly_api_key` is required when `interactly_integration_ids` is set.")
    if isinstance(ids, list):
        bad = [v for v in ids if not isinstance(v, str) or not INTEGRATION_ID.match(v)]
        if bad:
            errors.append(
                f"Setting `interactly_integration_ids` must hold ids of 24 lowercase hexadecimal characters "
                f"(e.g. 5eb7cf5a86d9755df3a6c593); these are not: {bad!r}."
            )
        elif len(set(ids)) != len(ids):
            errors.append(f"Setting `interactly_integration_ids` lists an integration more than once: {ids!r}.")
    types = config.get("appointment_types")
    if isinstance(types, list):
        unknown = [v for v in types if v not in APPOINTMENT_TYPES]
        if unknown or not types:
            errors.append(
                f"Setting `appointment_types` accepts {', '.join(APPOINTMENT_TYPES)}; "
                f"{'it is empty' if not types else f'unknown: {unknown!r}'}."
            )
    return errors
