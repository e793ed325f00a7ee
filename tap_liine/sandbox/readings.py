"""The questions the API documents leave open, and the readings the sandbox can play.

Each `Question` is one thing the documents do not settle (or contradict themselves on);
its first choice is the sandbox's default reading. A real API answers each question one
way; the tap must be correct under every choice, so tests run it under each of them.
`tap-liine-sandbox --reading NAME=CHOICE` (repeatable) and the test fixture's `readings`
argument switch them; `tap-liine-sandbox --list-readings` prints this table.
"""

from __future__ import annotations

import dataclasses
import typing as t


@dataclasses.dataclass(frozen=True)
class Question:
    name: str
    asks: str  # what the documents leave open
    choices: dict[str, str]  # choice -> what the sandbox then does; the first is the default

    @property
    def default(self) -> str:
        return next(iter(self.choices))


QUESTIONS: tuple[Question, ...] = (
    Question(
        "liine.pagination_timestamp",
        "Is the envelope's `pagination_timestamp` the page's oldest or its newest start_time "
        '(the document says both: "the start_time of the last (oldest) interaction" and '
        '"the timestamp of the first interaction in the current page")?',
        {"last": "the oldest start_time on the page", "first": "the newest start_time on the page"},
    ),
    Question(
        "liine.end_date",
        'Does `end_date` (YYYY-MM-DD, "at or before") cover its whole day?',
        {"whole-day": "interactions of that whole day are included", "midnight": "only up to 00:00:00 of that day"},
    ),
    Question(
        "liine.cursor_clock",
        "Which clock are `pagination_timestamp`, `start_date` and `end_date` compared with: "
        "`start_time` (the practice's wall-clock time written with a Z) or `start_time_tz` (UTC)?",
        {"local": "start_time", "utc": "start_time_tz"},
    ),
    Question(
        "liine.limit",
        "Is `limit` honoured up to 1000, and does the envelope's `limit` report what was applied?",
        {
            "honoured": "up to 1000 per page; the envelope reports the applied limit",
            "capped": "at most 300 per page; the envelope reports 300",
            "capped-echoed": "at most 300 per page; the envelope echoes the requested limit",
        },
    ),
    Question(
        "liine.count",
        "Does `count` count every interaction matching the filter, or those left after the cursor?",
        {
            "total": "every interaction matching the filter",
            "after-cursor": "only those older than the cursor",
            "page": "the interactions on this page",
            "missing": "absent",
            "capped-100": "every interaction matching the filter, but at most 100, as search back ends cap hit counts",
            "lagging": "2% fewer (at least one) than match, as a count from an index that lags behind",
        },
    ),
    Question(
        "liine.cursor",
        'Does `pagination_timestamp` ask for interactions "older than" the second (as documented) or "at or '
        'older than" it?',
        {"exclusive": "strictly older than the second", "inclusive": "at or older than the second"},
    ),
    Question(
        "liine.start_time",
        "In which shape do `start_time` and `start_time_tz` arrive (the document shows `2023-11-07T05:31:56Z`)?",
        {"seconds": "2023-11-07T05:31:56Z", "millis": "2023-11-07T05:31:56.000Z"},
    ),
    Question(
        "liine.numbers",
        "Do numbers and booleans arrive as JSON numbers and booleans?",
        {
            "json": "as JSON numbers and booleans",
            "strings": 'as JSON strings ("revenue": "73.10", "customer_id": "101", "is_new": "true"), '
            "envelope numbers included, as Django REST back ends write them",
        },
    ),
    Question(
        "liine.precision",
        "Does every number fit a double, as in the document's examples (`revenue` a decimal, ids integers)?",
        {
            "double": "yes: a few decimal places, integers below 2^53",
            "beyond-double": "every 7th interaction: `revenue` with more digits than a double holds "
            "(9007199254740993.<id>01) and `related_form_submission_id` above 2^64 (18446744073709551616 + id)",
        },
    ),
    Question(
        "conversations.order",
        "In which order does `/conversations` list a location's conversations (the document never says)?",
        {
            "id": "ascending id",
            "updated-asc": "oldest updated_at first",
            "updated-desc": "newest updated_at first",
            "created": "ascending created_at",
        },
    ),
    Question(
        "conversations.churn",
        "Do conversations change while the tap pages through them?",
        {
            "none": "no",
            "while-paging": "while a location is paged, one conversation is updated, one deleted, one created "
            "and one created back-dated among the rows already served (three times per location)",
        },
    ),
    Question(
        "conversations.count",
        'What is `count` (the sample shows `"count": "<integer>"`)?',
        {
            "total": "the number of conversations matching the filter, as a JSON number",
            "missing": "absent",
            "string": "the total as a JSON string",
            "page": "the number of rows on this page",
            "capped-100": "the total, but at most 100",
            "lagging": "2% fewer (at least one) than the total, as a count from an index that lags behind",
        },
    ),
    Question(
        "conversations.messages",
        "Which messages come with `include_messages=true` when `messages` is not sent?",
        {"all": "every message", "latest-5": "only the latest 5 (the `messages` parameter sets how many)"},
    ),
    Question(
        "conversations.per_page",
        "Is `per_page` honoured up to 100 as documented?",
        {"100": "up to 100", "50": "silently capped at 50"},
    ),
    Question(
        "conversations.past_last_page",
        "What does `/conversations` answer to a page number past the last (the document never says)?",
        {
            "empty": "an empty page",
            "404": 'a 404 {"detail": "Invalid page."}, as Django REST framework\'s page-number pagination does',
            "400": 'a 400 {"detail": "Invalid page."}',
        },
    ),
    Question(
        "conversations.updated_since",
        'What does `updated_since` filter (its description says "Only return messages updated since")?',
        {
            "conversations": "conversations updated since (messages come whole)",
            "messages": "the messages included; every conversation is listed",
        },
    ),
    Question(
        "conversations.numbers",
        'Do ids and counts arrive as JSON numbers (the sample shows "<integer>" strings everywhere)?',
        {"json": "as JSON numbers and booleans", "strings": "as JSON strings"},
    ),
    Question(
        "conversations.precision",
        "Does every integer fit 64 bits (the sample only says `<integer>`)?",
        {"int64": "yes", "beyond-int64": "every 3rd message's `sms_msg_id` is above 2^64 (18446744073709551616 + id)"},
    ),
    Question(
        "conversations.sender_info",
        "What shape has a message's `sender_info` (the sample fakes each of its fields as "
        '"Too many levels of nesting to fake this schema")?',
        {
            "flat": "name, image and meta_type strings, user_id an integer",
            "nested": 'each field an object ({"value": ...}, as the sample shows); `name` deeper still '
            '({"value": {"first": ..., "last": ...}, "aliases": [...]})',
        },
    ),
    Question(
        "conversations.offsets",
        "Which UTC offset do the date-times carry (the sample only says `<string>`)?",
        {
            "utc": "UTC (Z), except created_at_with_tz: the practice's offset (-05:00)",
            "local": "the practice's offset (-05:00) everywhere, the patient's date-times included",
        },
    ),
    Question(
        "interactly.breakdown_size",
        "Is `size` honoured for the source and UTM breakdown lists?",
        {"as-asked": "as asked", "capped-100": "at most 100 entries per page, whatever is asked"},
    ),
    Question(
        "interactly.trend_id",
        'What does a `trends` entry\'s `_id` stand for (the sample shows "2023-11-07T05:31:56Z")?',
        {
            "utc-midnight": "a UTC day, e.g. 2026-10-05T00:00:00.000Z",
            "local-midnight": "a day of the practice (America/New_York), e.g. 2026-10-05T04:00:00.000Z",
            "instant": "one entry per appointment instant, with milliseconds",
        },
    ),
    Question(
        "interactly.numbers",
        "Do counts arrive as JSON numbers?",
        {"json": "as JSON numbers", "strings": "as JSON strings"},
    ),
    Question(
        "interactly.past_last_page",
        "What does the statistics endpoint answer to a page number past the last (the document never says)?",
        {
            "empty": "empty lists",
            "404": 'a 404 {"detail": "Invalid page."}, as Django REST framework\'s page-number pagination does',
            "400": 'a 400 {"detail": "Invalid page."}',
        },
    ),
    Question(
        "errors.body",
        "Which body comes with a 429 or 5xx?",
        {
            "detail": 'a Django-style {"detail": ...} from every API',
            "documented": "each API's documented error envelope (Interactly: {statusCode, message, error}; "
            "conversations: {code: false, description, error})",
        },
    ),
)

BY_NAME = {question.name: question for question in QUESTIONS}


class Readings(t.Mapping[str, str]):
    """The reading of every question: the defaults, overridden by `chosen`."""

    def __init__(self, chosen: t.Mapping[str, str] | None = None) -> None:
        self._chosen = {q.name: q.default for q in QUESTIONS}
        for name, choice in (chosen or {}).items():
            question = BY_NAME.get(name)
            if question is None:
                msg = f"unknown question {name!r}; known: {', '.join(BY_NAME)}"
                raise ValueError(msg)
            if choice not in question.choices:
                msg = f"{name} has no reading {choice!r}; choose one of: {', '.join(question.choices)}"
                raise ValueError(msg)
            self._chosen[name] = choice

    @classmethod
    def parse(cls, specs: t.Iterable[str]) -> Readings:
        """`["liine.end_date=midnight", ...]`, as given on the command line."""
        chosen = {}
        for spec in specs:
            name, sep, choice = spec.partition("=")
            if not sep:
                msg = f"a reading is NAME=CHOICE, got {spec!r}"
                raise ValueError(msg)
            chosen[name.strip()] = choice.strip()
        return cls(chosen)

    def __getitem__(self, name: str) -> str:
        return self._chosen[name]

    def __iter__(self) -> t.Iterator[str]:
        return iter(self._chosen)

    def __len__(self) -> int:
        return len(self._chosen)

    def non_default(self) -> dict[str, str]:
        return {name: choice for name, choice in self._chosen.items() if choice != BY_NAME[name].default}

    def __repr__(self) -> str:
        return f"Readings({self.non_default()})"


def reported_count(reading: str, matching: int, on_page: int) -> int | None:
    """What an envelope's `count` says under a count reading ("total", "page", "capped-100", ...);
    None when it is absent. `matching`: what the count query matches (for "after-cursor", those
    left after the cursor)."""
    if reading == "missing":
        return None
    if reading == "page":
        return on_page
    if reading == "capped-100":
        return min(matching, 100)
    if reading == "lagging":
        return max(0, matching - max(1, matching // 50)) if matching else 0
    return matching


def alternatives(prefix: str = "") -> list[tuple[str, str]]:
    """Every (question, choice) that is not the default, e.g. to parametrize tests."""
    return [
        (question.name, choice)
        for question in QUESTIONS
        if question.name.startswith(prefix)
        for choice in list(question.choices)[1:]
    ]


def table() -> str:
    """The questions and readings as a Markdown table (README, `--list-readings`)."""
    lines = ["| question | readings (first: default) |", "|---|---|"]
    for question in QUESTIONS:
        readings = "<br>".join(f"`{choice}`: {meaning}" for choice, meaning in question.choices.items())
        lines.append(f"| `{question.name}`: {question.asks} | {readings} |")
    return "\n".join(lines)
