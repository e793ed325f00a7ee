"""Settings: the JSON schema users configure (a public contract), its messages, and cross-setting checks.

Everything one setting must satisfy (types, ranges, allowed values, id patterns, no
duplicates) is in the schema, so `--about`, the Meltano Hub definition and the README
table show it. `config_errors` turns each violation into one sentence naming the setting,
and never quotes the value of a secret; only checks that involve several settings
(credentials that come together, a source at all) are code.
"""

from __future__ import annotations

import collections
import difflib
import importlib.util
import math
import re
import typing as t
from urllib.parse import urlsplit

import orjson
from jsonschema import Draft202012Validator, ValidationError

from tap_liine.errors import a_json_type
from tap_liine.instants import parse_datetime

INTERACTION_TYPES = ("call", "form", "online_booking", "ehr_pms_entry")
APPOINTMENT_TYPES = ("NP", "F/U", "ASC_FU", "FU Tele", "PROCEDURE", "PROV_USE", "RAP_ACCESS")
# 24 hexadecimal characters (as in the statistics document) or a UUID v4 (the common topics document).
INTEGRATION_ID_PATTERN = "^([0-9a-f]{24}|[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$"
URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"
# YYYY-MM-DD, optionally with a time and offset: what `start_date` may be.
DATE_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
MAX_PAGE_SIZE = 1000
ENV_PREFIX = "TAP_LIINE_"  # `--config ENV` reads TAP_LIINE_<SETTING>
MAX_CONVERSATIONS_PAGE = 100
# Query parameters the tap sets itself; `interaction_filters` may not.
RESERVED_FILTERS = ("customer_id", "customer_ids", "pagination_timestamp", "limit", "start_date", "end_date",
                    "updated_date", "type", "include_is_spam_likely")  # fmt: skip
MEANINGS = {  # what a pattern asks for, in words
    INTEGRATION_ID_PATTERN: "24 lowercase hexadecimal characters (e.g. 5eb7cf5a86d9755df3a6c593) or a lowercase "
    "UUID v4 (e.g. 0f8fad5b-d9cb-469f-a165-70867728950e)",
    URL_PATTERN: "an http(s) URL",
    DATE_TIME_PATTERN: "an ISO-8601 date-time such as 2025-01-01T00:00:00Z",
    r"\S": "non-empty",
}


def location_id(value: str | float) -> str:
    """A conversations location id as the tap reads it: numbers as strings (3001.0, a whole number to
    JSON Schema, as "3001")."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


# The form in which the tap reads each id list (its state partitions): entries alike in it are one id.
ID_FORMS: dict[str, t.Callable[[t.Any], t.Any]] = {
    "customer_ids": int,
    "conversations_location_ids": location_id,
    "interactly_integration_ids": str.lower,  # hexadecimal
}

# Which settings switch each source on.
SOURCES: dict[str, tuple[str, ...]] = {
    "Liine": ("customer_ids", "username", "password"),
    "Conversations": ("conversations_api_key", "conversations_subdomain", "conversations_location_ids"),
    "Interactly": ("interactly_api_key", "interactly_integration_ids"),
}
# Which setting holds each API's base URL.
API_URLS = {"Liine": "api_url", "Conversations": "conversations_api_url", "Interactly": "interactly_api_url"}


def _setting(kind: str | dict[str, t.Any], title: str, description: str, **extra: t.Any) -> dict[str, t.Any]:
    schema = {"type": [kind, "null"]} if isinstance(kind, str) else dict(kind)
    return {**schema, **extra, "title": title, "description": description}


def _secret(title: str, description: str) -> dict[str, t.Any]:
    return _setting("string", title, description, secret=True, writeOnly=True)


def _list(items: dict[str, t.Any], title: str, description: str) -> dict[str, t.Any]:
    # An empty list is as good as none: e.g. TAP_LIINE_CUSTOMER_IDS='[]' switches a source off.
    return _setting({"type": ["array", "null"], "items": items, "uniqueItems": True}, title, description)


def meaning(schema: dict[str, t.Any]) -> str:
    """What a setting's pattern asks for, in words; a URL's example is its own default (each API has its own)."""
    pattern = schema["pattern"]
    words = MEANINGS.get(pattern, f"values matching {pattern}")
    return f"{words} such as {schema['default']}" if pattern == URL_PATTERN and schema.get("default") else words


def _url(default: str, title: str, description: str) -> dict[str, t.Any]:
    return _setting("string", title, description, format="uri", pattern=URL_PATTERN, default=default)


PROPERTIES: dict[str, dict[str, t.Any]] = {
    # --- all sources
    "start_date": _setting(
        {"type": ["string"]},
        "Start date",
        "Earliest data to extract on a first run (ISO-8601, e.g. 2025-01-01T00:00:00Z). Later runs continue from "
        "the saved state.",
        format="date-time",
        pattern=DATE_TIME_PATTERN,
    ),
    "lookback_days": _setting(
        "integer",
        "Lookback days",
        "Days before each saved bookmark that an incremental run of `interactions` and `conversations` re-reads, "
        "to catch late updates (0: none; bookmarks never pass the moment a run began).",
        minimum=0,
        default=1,
    ),
    "max_retries": _setting(
        "integer",
        "Maximum tries",
        "Attempts per request before a retriable error (429, 5xx, timeout, reset, unreadable body) fails the run.",
        minimum=1,
        default=5,
    ),
    "retry_wait_seconds": _setting(
        "number",
        "First retry wait",
        "Seconds to wait before the first retry; each further retry waits twice as long. A server's Retry-After "
        "header overrides it.",
        minimum=0,
        default=2.0,
    ),
    "max_retry_after_seconds": _setting(
        "number",
        "Longest Retry-After",
        "The longest wait a server may ask for with Retry-After (on a 429, a 503 maintenance window, a login); "
        "every request waits it out. A longer one fails the run at once, saying so.",
        minimum=0,
        default=300,
    ),
    "window_days": _setting(
        "integer",
        "Backfill window (days)",
        "A first run reads `interactions` and the Interactly trends in windows of this many days, oldest first, "
        "and saves its progress after each one: a killed backfill resumes with the next window.",
        minimum=1,
        default=30,
    ),
    "max_parallel_requests": _setting(
        "integer",
        "Parallel requests",
        "Windows and days are fetched this many at a time (1 = one request after another). Records and state come "
        "out in order either way.",
        minimum=1,
        maximum=32,
        default=4,
    ),
    "max_requests_per_second": _setting(
        "number",
        "Requests per second",
        "Cap on requests per second across all streams and threads (0 = no cap).",
        minimum=0,
        default=0,
    ),
    "state_interval_seconds": _setting(
        "number",
        "Seconds between STATE messages",
        "A STATE message goes out when a window or partition is done, at most one per this many seconds (0: "
        "after every one). The last state of each stream is always written, and a failed run writes what "
        "it finished.",
        minimum=0,
        default=5,
    ),
    "request_timeout": _setting(
        "number",
        "Request timeout",
        "Seconds to wait for a response before retrying the request.",
        exclusiveMinimum=0,
        default=300,
    ),
    # --- Liine
    "api_url": _url("https://app.liine.com", "Liine API URL", "Base URL of the Liine API."),
    "username": _setting("string", "Liine username", "Liine dashboard login."),
    "password": _secret(
        "Liine password",
        "Password of the Liine dashboard login; exchanged for a JWT at /call_log/authenticate/.",
    ),
    "customer_ids": _list(
        {"type": "integer", "minimum": 1},
        "Liine customer ids",
        "Liine customers to extract (ask Liine support for them); one state partition each.",
    ),
    "include_spam": _setting(
        "boolean",
        "Include spam-likely interactions",
        "Also extract interactions Liine marks as likely spam (the flag `is_spam_likely` tells them apart). When "
        "false the parameter is omitted, as the API counts it when present at all.",
        default=True,
    ),
    "interaction_types": _list(
        {"type": "string", "enum": list(INTERACTION_TYPES)},
        "Interaction types",
        "Only these interaction types (default: all).",
    ),
    "interaction_filters": _setting(
        {"type": ["object", "null"], "additionalProperties": True},
        "Further interaction filters",
        'Further documented query parameters of /call_log/interactions/ (e.g. {"direction": ["inbound"], '
        '"agent": [null, 12], "first_time_interaction": true}), sent verbatim: lists as repeated parameters, '
        "null as `null`, booleans as `true`/`false`.",
        propertyNames={"not": {"enum": list(RESERVED_FILTERS)}},
        default={},
    ),
    "page_size": _setting(
        "integer",
        "Interactions per page",
        "`limit` sent to the interactions endpoint.",
        minimum=1,
        maximum=MAX_PAGE_SIZE,
        default=MAX_PAGE_SIZE,
    ),
    # --- patient conversations
    "conversations_api_url": _url(
        "https://nexhealth.info", "Conversations API URL", "Base URL of the patient-conversations API."
    ),
    "conversations_api_key": _secret(
        "Conversations API key",
        "API key, exchanged at POST /authenticates for a bearer token that the tap renews before it expires.",
    ),
    "conversations_subdomain": _setting(
        "string",
        "Conversations subdomain",
        "The institution's subdomain, sent with every request to scope it.",
    ),
    "conversations_location_ids": _list(
        {"type": ["string", "integer"], "pattern": r"\S"},
        "Conversations location ids",
        "Locations whose conversations to extract; one state partition each. Numbers are read as strings "
        '(3001 and "3001" are one location), so state partitions stay the same either way.',
    ),
    "conversations_page_size": _setting(
        "integer",
        "Conversations per page",
        "`per_page` sent to /conversations.",
        minimum=1,
        maximum=MAX_CONVERSATIONS_PAGE,
        default=MAX_CONVERSATIONS_PAGE,
    ),
    # --- Interactly
    "interactly_api_url": _url("https://api.interactly.ai", "Interactly API URL", "Base URL of the Interactly API."),
    "interactly_api_key": _secret(
        "Interactly API key",
        "API key from the Interactly dashboard, sent as `Authorization: Bearer <key>`.",
    ),
    "interactly_integration_ids": _list(
        {"type": "string", "pattern": INTEGRATION_ID_PATTERN},
        "Interactly integration ids",
        "Integrations whose appointment statistics to extract, each as 24 hexadecimal characters or as a UUID v4.",
    ),
    "appointment_types": _list(
        {"type": "string", "enum": list(APPOINTMENT_TYPES)},
        "Appointment types",
        "Appointment types to extract separately; one state partition each. Default: all types together, as "
        'appointment_type "all".',
    ),
    "statistics_lookback_days": _setting(
        "integer",
        "Statistics lookback days",
        "Days before the bookmark that an incremental run of the Interactly streams re-reads, because dashboard "
        "figures change after the fact.",
        minimum=0,
        default=7,
    ),
}

# Read by the SDK's BATCH support but missing from its built-in schema (TapLiine adds it).
BATCH_SIZE_SETTING = _setting(
    "integer",
    "Batch Size",
    "Records per BATCH file (default 10,000). A loader holds about one file's records at a time: "
    "target-postgres peaked at 259 MB with 10,000 and 403 MB with 20,000, at the same speed end to end.",
    minimum=1,
)  # no `default`: Meltano would then send a `batch_config` to a tap that is not meant to batch

CONFIG_SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": PROPERTIES,
    "required": ["start_date"],
    "$schema": "https://json-schema.org/draft/2020-12/schema",
}


def source_configured(config: t.Mapping[str, t.Any], source: str) -> bool:
    return any(config.get(name) for name in SOURCES[source])


def source_hint(source: str) -> str:
    return "set " + ", ".join(f"`{name}`" for name in SOURCES[source])


URL_SETTINGS = tuple(name for name in PROPERTIES if name.endswith("api_url"))
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def plain_http_warnings(config: t.Mapping[str, t.Any]) -> list[str]:
    """A sentence for each URL setting that would send credentials and patient data unencrypted
    (http:// to another machine). Names the setting and the host, never the URL (it may hold a login)."""
    warnings = []
    for name in URL_SETTINGS:
        parts = urlsplit(str(config.get(name) or ""))
        if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
            warnings.append(
                f"Setting `{name}` is an http:// URL to {parts.hostname}: credentials and patient data would "
                "cross the network unencrypted. Use https:// (http:// is meant for the local sandbox)."
            )
    return warnings


def config_errors(config: t.Mapping[str, t.Any], schema: dict[str, t.Any]) -> list[str]:
    """Every problem with `config`, one sentence each, secrets never quoted."""
    config = dict(config)  # a read-only mapping is no JSON object to jsonschema
    validator = Draft202012Validator(schema)
    errors = [_sentence(error, schema) for error in sorted(validator.iter_errors(config), key=lambda e: list(e.path))]
    start = config.get("start_date")
    if isinstance(start, str) and not any("`start_date`" in e for e in errors):
        try:
            parse_datetime(start)  # the parser every stream reads it with
        except ValueError:
            errors.append(f"Setting `start_date` must be a real date, such as 2025-01-01T00:00:00Z; got {start!r}.")
    errors += _repeated_ids(config) + _cross_setting_errors(config)
    return list(dict.fromkeys(errors))


def _sentence(error: ValidationError, schema: dict[str, t.Any]) -> str:
    path = list(error.absolute_path)
    if error.validator == "required":
        name = str(error.message).split("'")[1]
        return f"Setting `{name}` is required: {PROPERTIES.get(name, {}).get('description', '')}"
    if not path:
        return "The configuration must be a JSON object of settings (see the README's settings table)."
    name = ".".join(str(part) for part in path if isinstance(part, str))  # `batch_config.batch_size`
    secret = bool(schema.get("properties", {}).get(str(path[0]), {}).get("secret"))
    value = "a value" if secret else repr(error.instance)
    rule = error.validator_value
    what = {
        "type": lambda: f"must be {_kinds(rule)}; got {_shown(error.instance, secret)}",
        "minimum": lambda: f"must be {rule} or more; got {value}",
        "maximum": lambda: f"must be {rule} or less; got {value}",
        "exclusiveMinimum": lambda: f"must be more than {rule}; got {value}",
        "enum": lambda: f"accepts {', '.join(map(str, rule))}; got {value}",
        "pattern": lambda: f"must hold {meaning(error.schema)}; {value} is not",
        "uniqueItems": lambda: f"lists {_duplicates(error.instance, name)} more than once",
        "propertyNames": lambda: (
            f"may not set {value}: the tap sets it itself (use `customer_ids`, `start_date`, "
            "`interaction_types`, `include_spam` or `page_size`)"
        ),
    }.get(str(error.validator), lambda: "is not valid" + ("" if secret else f": {error.message}"))()
    return f"Setting `{name}` {what}."


def _kinds(rule: t.Any) -> str:
    kinds = [k for k in ([rule] if isinstance(rule, str) else rule) if k != "null"]
    words = {"integer": "a whole number", "number": "a number", "boolean": "true or false", "string": "a string",
             "array": "a list", "object": "an object (a mapping of names to values)"}  # fmt: skip
    return " or ".join(words.get(k, k) for k in kinds)


def _shown(value: t.Any, secret: bool) -> str:
    return a_json_type(value) if secret else repr(value)


def _duplicates(values: list[t.Any], name: str) -> str:
    """The entries of setting `name` that are one, e.g. "101" or "3001 (as 3001 and '3001')": alike as
    the tap reads them (`ID_FORMS`), else as written (repr: values may be unhashable)."""
    form = ID_FORMS.get(name, repr)
    try:
        forms = [repr(value) if isinstance(value, bool) else form(value) for value in values]
    except (TypeError, ValueError, AttributeError):  # not ids (a type error says so): compared as written
        forms = [repr(value) for value in values]
    spellings: dict[t.Any, list[str]] = collections.defaultdict(list)
    for read, value in zip(forms, values, strict=True):
        spellings[read].append(repr(value))
    repeated = [dict.fromkeys(shown) for shown in spellings.values() if len(shown) > 1]
    return ", ".join(
        next(iter(shown)) if len(shown) == 1 else f"{next(iter(shown))} (as {' and '.join(shown)})"
        for shown in repeated
    )


def _repeated_ids(config: t.Mapping[str, t.Any]) -> list[str]:
    """Ids listed twice in the form the tap reads them (3001 and "3001" are one location), which the
    schema's `uniqueItems` cannot see; worded as its sentence is."""
    errors = []
    for name in ID_FORMS:
        values = config.get(name)
        if isinstance(values, list) and (repeated := _duplicates(values, name)):
            errors.append(f"Setting `{name}` lists {repeated} more than once.")
    return errors


def _cross_setting_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """What involves several settings or the installation: credentials that come together, a source at
    all, pyarrow for Parquet files."""
    errors: list[str] = []
    if config.get("customer_ids"):
        for name in ("username", "password"):
            if not config.get(name):
                errors.append(
                    f"Setting `{name}` is required when `customer_ids` is set: the tap logs in to Liine with "
                    "`username` and `password` to extract interactions."
                )
    elif config.get("username") or config.get("password"):
        errors.append(
            "Setting `customer_ids` is required when Liine credentials are set: list the Liine customers to "
            "extract (ask Liine support for the ids)."
        )
    for source in ("Conversations", "Interactly"):
        names = SOURCES[source]
        given = [name for name in names if config.get(name) not in (None, "", [])]
        for name in names if given else ():
            if name not in given:
                errors.append(
                    f"Setting `{name}` is required when {', '.join(f'`{g}`' for g in given)} "
                    f"{'is' if len(given) == 1 else 'are'} set: the {source.lower()} source needs "
                    f"{', '.join(f'`{n}`' for n in names)}."
                )
    encoding = (config.get("batch_config") or {}).get("encoding") or {}
    if encoding.get("format") == "parquet" and importlib.util.find_spec("pyarrow") is None:
        errors.append(
            "Setting `batch_config.encoding.format` is `parquet`, which needs pyarrow: install the tap with "
            "`pip install 'tap-liine[parquet]'` (in Meltano, a pip_url ending in `[parquet]`), or use `jsonl`."
        )
    if not any(source_configured(config, source) for source in SOURCES):
        errors.append(
            "No source is configured. Set `customer_ids`, `username` and `password` for Liine interactions, and/or "
            "`conversations_api_key`, `conversations_subdomain` and `conversations_location_ids` for patient "
            "conversations, and/or `interactly_api_key` and `interactly_integration_ids` for appointment "
            "statistics (see the README's settings table)."
        )
    return errors


def api_params(filters: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """`interaction_filters` as the API spells them: null as `null`, booleans as `true`/`false`."""

    def spelled(value: t.Any) -> t.Any:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, tuple)):
            return [spelled(item) for item in value]
        return value

    return {name: spelled(value) for name, value in filters.items()}


def unknown_settings(config: t.Mapping[str, t.Any], schema: dict[str, t.Any]) -> list[str]:
    """A sentence for each setting name the tap does not know (a typo is otherwise silently ignored)."""
    known = list(schema.get("properties", {}))
    sentences = []
    for name in config:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`?" if close else "see the README's settings table."
        sentences.append(f"Setting `{name}` is not a setting of tap-liine and is ignored; {hint}")
    return sentences


def environment_config(schema: dict[str, t.Any], prefix: str, environ: t.Mapping[str, str]) -> tuple[dict, list[str]]:
    """Settings given as environment variables (`--config ENV`), read by the schema's types.

    Values are written as users write them: lists as JSON or `a,b` (numbers as integers when
    the list holds numbers), whole numbers, numbers such as `2.5`, booleans as true/false (also
    1/0, yes/no, on/off), objects as JSON. Returns the settings and, for anything unreadable,
    one sentence naming the variable and its setting (secrets never quoted).
    """
    config: dict[str, t.Any] = {}
    errors = []
    for name, setting in schema.get("properties", {}).items():
        variable = prefix + name.upper().replace("-", "_")
        raw = environ.get(variable)
        if raw is None:
            continue
        value, expected = _env_value(raw, setting)
        if expected is None:
            config[name] = value
            continue
        shown = "a value" if setting.get("secret") else repr(raw)
        errors.append(f"Environment variable `{variable}` (setting `{name}`) must be {expected}; {shown} is not.")
    return config, errors


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
_WHOLE = re.compile(r"^[+-]?\d+$")


def _env_value(raw: str, setting: dict[str, t.Any]) -> tuple[t.Any, str | None]:
    """The value `raw` stands for under the setting's type, or (None, what was expected)."""
    kinds = setting.get("type") or []
    kinds = [kinds] if isinstance(kinds, str) else kinds
    text = raw.strip()
    if "array" in kinds:
        items = setting.get("items", {}).get("type", [])
        values = _env_list(raw, numbers="integer" in items and "string" not in items)
        return (
            (values, None)
            if values is not None
            else (None, "a JSON list or values separated by commas, such as 101,202")
        )
    if "integer" in kinds:
        return (int(text), None) if _WHOLE.match(text) else (None, "a whole number such as 3")
    if "number" in kinds:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        return (number, None) if math.isfinite(number) else (None, "a number such as 2.5")
    if "boolean" in kinds:
        flag = _BOOLEANS.get(text.lower())
        return (flag, None) if flag is not None else (None, "true or false")
    if "object" in kinds:
        value = _json_or_none(text)
        return (value, None) if isinstance(value, dict) else (None, 'a JSON object such as {"direction": ["inbound"]}')
    return raw, None


def _env_list(raw: str, *, numbers: bool) -> list[t.Any] | None:
    """`[101, 202]`, `101,202` or `a, b` as a list (numbers as integers when the list holds numbers)."""
    text = raw.strip()
    if text.startswith("["):
        value = _json_or_none(text)
        return value if isinstance(value, list) else None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not numbers:
        return parts
    if not all(part.lstrip("-").isdigit() for part in parts):
        return None
    return [int(part) for part in parts]


def _json_or_none(text: str) -> t.Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
