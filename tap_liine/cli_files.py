"""The JSON files the command line names (`--config`, `--state`, `--catalog`), read and checked.

Each is checked before the SDK reads it and before any request: a file that is missing, a
directory, unreadable, not JSON or not the shape the tap needs stops the run with one
sentence naming the option, the file and what is wrong (`InputFileProblem`). No value of
the file is quoted (a state or catalog names no patient, but a config holds secrets): only
JSON types, field names and the parser's line and column.
"""

from __future__ import annotations

import json
import sys
import typing as t

from tap_liine.errors import RunStopped, json_type

_HINTS = {
    "--config": "an object of settings",
    "--state": 'an object such as {"bookmarks": {...}}, as the tap writes',
    "--catalog": "an object with a `streams` list, as `--discover` writes",
}


class InputFileProblem(RunStopped):
    """A file named on the command line cannot be used; the message says which and why."""


def read_json_object(path: str, option: str) -> tuple[str, dict[str, t.Any]]:
    """The text and the decoded object of the file `path` given to `option`."""

    def problem(what: str) -> InputFileProblem:
        return InputFileProblem(f"The file `{path}` given to `{option}` {what}.")

    try:
        if path == "-":  # standard input, as the SDK's own options (click.File) take it
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except FileNotFoundError:
        raise problem("does not exist") from None
    except IsADirectoryError:
        raise problem("is a directory, not a JSON file") from None
    except UnicodeDecodeError:
        raise problem("is not UTF-8 text, so not JSON") from None
    except OSError as exc:
        raise problem(f"cannot be read ({exc.strerror})") from None
    if not text.strip():
        raise problem(f"is empty; it must hold {_HINTS[option]}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:  # its message quotes no part of the text
        where = f"{exc.msg.removesuffix(' at')} at line {exc.lineno}, column {exc.colno}"
        raise problem(f"is not JSON ({where})") from None
    if not isinstance(value, dict):
        raise problem(f"holds a JSON {json_type(value)}; it must hold {_HINTS[option]}")
    shape = {"--state": _state_problem, "--catalog": _catalog_problem}.get(option)
    if shape is not None and (wrong := shape(value)):
        raise problem(wrong)
    return text, value


def _state_problem(state: dict[str, t.Any]) -> str | None:
    """What the SDK could not load in a state (saved_state.py checks the bookmarks' values)."""
    if "bookmarks" not in state:
        return None
    bookmarks = state["bookmarks"]
    if not isinstance(bookmarks, dict):
        return f"has `bookmarks` as a JSON {json_type(bookmarks)}; it must be an object with one entry per stream"
    for name, stream_state in bookmarks.items():
        if not isinstance(stream_state, dict):
            return f"has the bookmarks of stream `{name}` as a JSON {json_type(stream_state)}; they must be an object"
    return None


def _catalog_problem(catalog: dict[str, t.Any]) -> str | None:
    """What the SDK could not read in a catalog (which streams it names is checked by the tap)."""
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        got = "has no `streams`" if streams is None else f"has `streams` as a JSON {json_type(streams)}"
        return f"{got}; it must hold {_HINTS['--catalog']}"
    for number, entry in enumerate(streams, start=1):
        where = f"has as stream {number} of its `streams`"
        if not isinstance(entry, dict):
            return f"{where} a JSON {json_type(entry)}; each must be an object"
        if not isinstance(entry.get("tap_stream_id"), str):
            return f"{where} an entry without a `tap_stream_id` text"
        name = f"has as stream `{entry['tap_stream_id']}`"
        if not isinstance(entry.get("schema", {}), dict):
            return f"{name} a `schema` that is a JSON {json_type(entry['schema'])}, not an object"
        metadata = entry.get("metadata", [])
        if not isinstance(metadata, list) or not all(
            isinstance(m, dict)
            and isinstance(m.get("breadcrumb", []), list)
            and isinstance(m.get("metadata", {}), dict)
            for m in metadata
        ):
            return f"{name} a `metadata` that is not a list of objects with a `breadcrumb` list and a `metadata` object"
    return None


def unknown_streams(catalog: t.Mapping[str, t.Any], known: t.Collection[str]) -> str | None:
    """The sentence for catalog entries naming streams the tap does not have, if any."""
    unknown = [e["tap_stream_id"] for e in catalog["streams"] if e["tap_stream_id"] not in known]
    if not unknown:
        return None
    names = ", ".join(f"`{n}`" for n in unknown)
    return (
        f"The catalog given to `--catalog` names {'a stream' if len(unknown) == 1 else 'streams'} the tap does not "
        f"have: {names}. Its streams are {', '.join(f'`{n}`' for n in known)}: write the catalog again with "
        "`--discover` (or `meltano select`)."
    )
