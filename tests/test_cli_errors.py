"""Bad input and failures, through the real `tap-liine` command: clear, early, no secrets."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.singerlib import Catalog

from tap_liine.cli_files import InputFileProblem, read_json_object, unknown_streams
from tap_liine.errors import RunStopped
from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.tap import OUTPUT_CLOSED, TapLiine
from tests.helpers import catalog_without, liine_config, run_cli, sent

BAD_SETTINGS = [
    ({"customer_ids": ["abc"]}, "customer_ids"),
    ({"customer_ids": [101, 0]}, "customer_ids"),
    ({"customer_ids": []}, "customer_ids"),
    ({"start_date": "last tuesday"}, "start_date"),
    ({"start_date": None}, "start_date"),
    ({"interaction_types": ["call", "fax"]}, "interaction_types"),
    ({"password": None}, "password"),
    ({"username": ""}, "username"),
    ({"page_size": 5000}, "page_size"),
    ({"lookback_days": -1}, "lookback_days"),
    ({"include_spam": "yes"}, "include_spam"),
    ({"interaction_filters": {"customer_id": 5}}, "interaction_filters"),
    ({"max_retries": 0}, "max_retries"),
    ({"api_url": "not a url"}, "api_url"),
    ({"batch_config": {"batch_size": 0}}, "`batch_config.batch_size` must be 1 or more"),
]


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-2000:]


@pytest.mark.parametrize(("change", "setting"), BAD_SETTINGS, ids=[s.strip("`").split("`")[0] for _, s in BAD_SETTINGS])
def test_bad_setting_is_named_before_any_request(sandbox, tmp_path, change, setting) -> None:
    server = sandbox(scale=50)
    config = {k: v for k, v in {**liine_config(server.url), **change}.items() if v is not None}

    result = run_cli(tmp_path, config)

    assert result.returncode == 1
    assert setting in result.stderr
    assert result.stdout == ""
    _no_traceback(result.stderr)
    assert requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() == []
    assert "demo-password" not in result.stderr


def test_no_source_configured_is_an_error(tmp_path) -> None:
    result = run_cli(tmp_path, {"start_date": "2025-01-01T00:00:00Z"})
    assert result.returncode == 1
    assert "No source is configured" in result.stderr
    _no_traceback(result.stderr)


def test_wrong_password_fails_once_with_a_clear_message(sandbox, tmp_path) -> None:
    server = sandbox(scale=50)
    config = liine_config(server.url, password="Wr0ng-Secret!")

    result = run_cli(tmp_path, config)

    assert result.returncode == 1
    assert "refused the login of user 'demo'" in result.stderr
    assert "`username` and `password`" in result.stderr
    assert "Wr0ng-Secret!" not in result.stderr + result.stdout
    _no_traceback(result.stderr)
    logins = [p for m, p in requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() if "authenticate" in p]
    assert len(logins) == 1  # no retry loop on refused credentials


def test_exhausted_retries_name_endpoint_and_status(sandbox, tmp_path) -> None:
    server = sandbox(scale=50, faults="503", every=1)
    result = run_cli(tmp_path, liine_config(server.url, max_retries=3))

    assert result.returncode == 1
    assert "Giving up after 3 tries" in result.stderr
    assert "/call_log/authenticate/" in result.stderr or "/call_log/interactions/" in result.stderr
    assert "503" in result.stderr
    _no_traceback(result.stderr)


def test_other_4xx_fails_at_once_with_the_apis_words(sandbox, tmp_path) -> None:
    server = sandbox(scale=50)
    result = run_cli(tmp_path, liine_config(server.url, interaction_filters={"duration_min": "long"}))

    assert result.returncode == 1
    assert "400" in result.stderr
    assert "duration_min must be a number, got 'long'" in result.stderr
    _no_traceback(result.stderr)
    sent = [p for m, p in requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() if "interactions" in p]
    # No retry: at most the first request of each of the 4 parallel windows, each once.
    assert 1 <= len(sent) <= 4
    assert len(set(sent)) == len(sent)


def test_secrets_never_appear_in_output_or_logs(sandbox, tmp_path) -> None:
    # Faults on (truncated login answers included), tokens expiring and revoked, two sources.
    conversations = ConversationsApi(api_key="ck-Very-Secret-Key", token_lifetime=0.3, conversations_per_location=60)
    server = sandbox(scale=3000, faults="all", every=5, token_lifetime=0.3, latency_ms=20, extra_apis=[conversations])
    server.apis[0].password = "S3cret-Pa55word"
    config = liine_config(
        server.url,
        password="S3cret-Pa55word",
        conversations_api_url=server.url,
        conversations_api_key="ck-Very-Secret-Key",
        conversations_subdomain="bright-smiles",
        conversations_location_ids=["3001", "3002"],
        max_retries=15,  # a try needs a login and a page to get through the fault schedule
    )

    result = run_cli(tmp_path, config)

    assert result.returncode == 0, result.stderr[-3000:]
    issued = [token for api in server.apis for token in api.tokens]
    assert len(issued) > 2
    everything = result.stdout + result.stderr
    assert "S3cret-Pa55word" not in everything
    assert "ck-Very-Secret-Key" not in everything
    for token in issued:
        assert token not in everything
        assert token[:40] not in everything


# ----- the files the command line names ------------------------------------------------------

SECRET = "S3cret-in-a-broken-file"
INVALID = {"customer_ids": []}  # valid JSON, but Liine credentials without customers
INVALID_SAID = [
    "Setting `customer_ids` is required when Liine credentials are set: list the Liine customers to extract "
    "(ask Liine support for the ids).",
    "Config validation failed",
]
# Through the real command, one process each (as Meltano starts it): the files the tap reads
# itself, and `--test`, whose config is checked outside a run. Each case: files to write
# (name: text, or written as JSON), the arguments, the ERROR lines it ends with (`{dir}`: its folder).
FILE_CASES: dict[str, tuple[dict[str, t.Any], list[str], list[str]]] = {
    "config-cut-short-in-a-secret": (
        {"cut.json": '{"username": "demo", "password": "' + SECRET},
        ["--config", "{dir}/cut.json"],
        ["The file `{dir}/cut.json` given to `--config` is not JSON (Unterminated string starting at line 1, "
         "column 34)."],
    ),
    "config-invalid-with-test": (
        {"invalid.json": INVALID},
        ["--config", "{dir}/c.json", "--config", "{dir}/invalid.json", "--test"],
        INVALID_SAID,
    ),
    "state-missing": (
        {},
        ["--config", "{dir}/c.json", "--state", "{dir}/none.json"],
        ["The file `{dir}/none.json` given to `--state` does not exist."],
    ),
    "catalog-unknown-stream": (
        {"cat.json": {"streams": [{"tap_stream_id": "patients", "schema": {}, "metadata": []}]}},
        ["--config", "{dir}/c.json", "--catalog", "{dir}/cat.json"],
        ["The catalog given to `--catalog` names a stream the tap does not have: `patients`. Its streams are "
         "`interactions`, `conversations`, `conversation_messages`, `appointment_statistics`, "
         "`appointment_trends`: write the catalog again with `--discover` (or `meltano select`)."],
    ),
}  # fmt: skip
# The rest of what a file can be, read as the command reads it (cli_files.py), in this process:
# the text it holds, or a directory (None) or nothing (NO_FILE) in its place.
NO_FILE = ""
READ_CASES: list[tuple[str, str | None, str]] = [
    ("--config", "{", "is not JSON (Expecting property name enclosed in double quotes at line 1, column 2)"),
    ("--config", "[1]", "holds a JSON array; it must hold an object of settings"),
    ("--config", '"x"', "holds a JSON string; it must hold an object of settings"),
    ("--config", None, "is a directory, not a JSON file"),
    ("--config", NO_FILE, "does not exist"),
    ("--state", " \n", 'is empty; it must hold an object such as {"bookmarks": {...}}, as the tap writes'),
    ("--state", "not json", "is not JSON (Expecting value at line 1, column 1)"),
    ("--state", "[1]", 'holds a JSON array; it must hold an object such as {"bookmarks": {...}}, as the tap writes'),
    ("--state", "null", 'holds a JSON null; it must hold an object such as {"bookmarks": {...}}, as the tap writes'),
    ("--state", '{"bookmarks": []}', "has `bookmarks` as a JSON array; it must be an object with one entry per stream"),
    ("--state", '{"bookmarks": null}',
     "has `bookmarks` as a JSON null; it must be an object with one entry per stream"),
    ("--state", '{"bookmarks": {"interactions": 5}}',
     "has the bookmarks of stream `interactions` as a JSON number; they must be an object"),
    ("--catalog", "<html>", "is not JSON (Expecting value at line 1, column 1)"),
    ("--catalog", "{}", "has no `streams`; it must hold an object with a `streams` list, as `--discover` writes"),
    ("--catalog", '{"streams": {}}',
     "has `streams` as a JSON object; it must hold an object with a `streams` list, as `--discover` writes"),
    ("--catalog", '{"streams": [5]}', "has as stream 1 of its `streams` a JSON number; each must be an object"),
    ("--catalog", '{"streams": [{"stream": "interactions"}]}',
     "has as stream 1 of its `streams` an entry without a `tap_stream_id` text"),
    ("--catalog", '{"streams": [{"tap_stream_id": "interactions", "schema": []}]}',
     "has as stream `interactions` a `schema` that is a JSON array, not an object"),
    ("--catalog", '{"streams": [{"tap_stream_id": "interactions", "metadata": [{"breadcrumb": "x"}]}]}',
     "has as stream `interactions` a `metadata` that is not a list of objects with a `breadcrumb` list and a "
     "`metadata` object"),
]  # fmt: skip


@pytest.mark.parametrize(("option", "text", "said"), READ_CASES)
def test_a_file_the_tap_cannot_use_is_named_with_what_is_wrong(tmp_path, option, text, said) -> None:
    path = tmp_path / "file.json"
    if text is None:
        path.mkdir()
    elif text != NO_FILE:
        path.write_text(text)

    with pytest.raises(InputFileProblem) as problem:
        read_json_object(str(path), option)

    assert str(problem.value) == f"The file `{path}` given to `{option}` {said}."


def _errors(stderr: str) -> list[str]:
    return [line.split(" | ", 3)[3] for line in stderr.splitlines() if "| ERROR" in line]


def _good_files_run(server_url: str, folder: Path) -> subprocess.Popen[str]:
    """A run with a state and a catalog that are fine: only the selected stream, from the bookmark.
    (`folder` is created.)"""
    config = liine_config(
        server_url,
        customer_ids=[101],
        conversations_api_url=server_url,
        conversations_api_key="demo-conversations-key",
        conversations_subdomain="bright-smiles",
        conversations_location_ids=["3001"],
    )
    folder.mkdir()
    (folder / "c.json").write_text(json.dumps(config))
    (folder / "cat.json").write_text(json.dumps(catalog_without(config, "conversations", "conversation_messages")))
    state = {"bookmarks": {"interactions": {"replication_key_value": "2026-10-01T00:00:00+00:00"}}}
    (folder / "s.json").write_text(json.dumps(state))
    args = ["--config", "c.json", "--catalog", "cat.json", "--state", "s.json"]
    return subprocess.Popen([sys.executable, "-m", "tap_liine", *args], cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_every_bad_file_ends_in_one_sentence_before_any_request_as_a_closed_output_does(sandbox, tmp_path) -> None:
    server = sandbox(scale=20, customers=[101])
    config = liine_config(server.url, customer_ids=[101], password=SECRET)
    server.apis[0].password = SECRET
    elsewhere = sandbox(scale=20, customers=[101], conversations={"conversations_per_location": 3})
    # All cases at once, and a run whose files are fine: the test takes about as long as the slowest.
    good = _good_files_run(elsewhere.url, tmp_path / "good")
    unread = _good_files_run(elsewhere.url, tmp_path / "unread")
    assert unread.stdout is not None
    unread.stdout.close()  # a target that died: nothing reads the tap's output
    running = {}
    for case, (files, args, _) in FILE_CASES.items():
        folder = tmp_path / case
        folder.mkdir()
        (folder / "c.json").write_text(json.dumps(config))
        for name, content in files.items():
            (folder / name).write_text(content if isinstance(content, str) else json.dumps(content))
        command = [sys.executable, "-m", "tap_liine", *(a.format(dir=folder) for a in args)]
        running[case] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ended = {case: (process.communicate(timeout=300), process.returncode) for case, process in running.items()}
    out, err = good.communicate(timeout=300)
    _, unread_err = unread.communicate(timeout=300)

    said = {case: (code, _errors(err)) for case, ((_, err), code) in ended.items()}
    assert said == {
        case: (1, [line.format(dir=tmp_path / case) for line in lines]) for case, (_, _, lines) in FILE_CASES.items()
    }
    for (bad_out, bad_err), _ in ended.values():
        assert bad_out == ""
        _no_traceback(bad_err)
        assert SECRET not in bad_err
    assert sent(server.url) == []
    assert good.returncode == 0, err[-2000:]
    records = [json.loads(line) for line in out.splitlines() if '"RECORD"' in line]
    assert {r["stream"] for r in records} == {"interactions"}
    assert "it is applied to its 1 partitions without one of their own" in err
    assert not [path for path in sent(elsewhere.url) if "conversations" in path or "authenticates" in path]
    assert (unread.returncode, _errors(unread_err)) == (1, [OUTPUT_CLOSED])
    _no_traceback(unread_err)


def test_a_listing_to_a_reader_that_stops_early_ends_quietly() -> None:
    listing = subprocess.Popen([sys.executable, "-m", "tap_liine.sandbox", "--list-readings"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.close()  # as `| head` does once it has read enough: the table goes nowhere

    assert listing.stderr.read() == ""
    assert listing.wait(timeout=60) == 1


def test_a_file_may_be_standard_input_as_with_the_sdk(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"bookmarks": {}}'))
    assert read_json_object("-", "--state") == ('{"bookmarks": {}}', {"bookmarks": {}})
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(InputFileProblem, match=r"^The file `-` given to `--catalog` is empty; "):
        read_json_object("-", "--catalog")


# ----- any file at all: used, or refused in one sentence -------------------------------------

_KEYS = st.sampled_from(["bookmarks", "streams", "tap_stream_id", "schema", "metadata", "breadcrumb", "selected",
                         "interactions", "partitions", "context", "customer_id", "replication_key_value", "backfill",
                         "password"])  # fmt: skip
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.just(SECRET),
                    st.sampled_from(["interactions", "2026-01-01T00:00:00Z", "101"]))  # fmt: skip
_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
                       max_leaves=10)  # fmt: skip
_ENTRIES = st.dictionaries(_KEYS, _VALUES, max_size=3)
_DOCUMENTS = st.one_of(  # anything, and shapes close to a catalog's and a state's
    _VALUES,
    _ENTRIES.map(lambda entry: {"streams": [entry]}),
    _ENTRIES.map(lambda entry: {"streams": [{"tap_stream_id": "interactions", **entry}]}),
    (_LEAVES | _VALUES).map(lambda stream_state: {"bookmarks": {"interactions": stream_state}}),
    _ENTRIES.map(lambda stream_state: {"bookmarks": {"interactions": stream_state}}),
    (_LEAVES | _VALUES).map(lambda partitions: {"bookmarks": {"interactions": {"partitions": partitions}}}),
    _VALUES.map(lambda partition: {"bookmarks": {"interactions": {"partitions": [partition]}}}),
    _ENTRIES.map(lambda context: {"bookmarks": {"interactions": {"partitions": [{"context": context}]}}}),
)
_CONFIG = {"api_url": "http://127.0.0.1:9", "username": "demo", "password": "x", "customer_ids": [101],
           "start_date": "2024-01-01T00:00:00Z"}  # fmt: skip


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    document=_DOCUMENTS,
    cut=st.one_of(st.just(-1), st.integers(0, 200)),
    option=st.sampled_from(["--config", "--state", "--catalog"]),
)
def test_any_file_is_used_or_refused_in_one_sentence(tmp_path_factory, document, cut, option) -> None:
    path = tmp_path_factory.mktemp("file") / "file.json"
    text = json.dumps(document)
    path.write_text(text[:cut] if 0 <= cut < len(text) else text)  # some cut short, as a file written half

    try:
        _, value = read_json_object(str(path), option)
    except InputFileProblem as problem:
        said = str(problem)
        assert said.startswith(f"The file `{path}` given to `{option}` ") and said.endswith(".")
        assert option != "--config" or SECRET not in said  # a config's values are never quoted
        return
    # What the tap let through, the SDK and the tap's own checks take without a traceback.
    if option == "--catalog":
        Catalog.from_dict(value)
        unknown_streams(value, ["interactions"])
    elif option == "--state":
        with contextlib.suppress(RunStopped):  # the bookmarks' values: one sentence too (saved_state.py)
            TapLiine(config=_CONFIG, state=value)
