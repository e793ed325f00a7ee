"""Write the README's settings table from `tap-liine --about --format=json`, constraints included.

The SDK's Markdown `--about` shows names, defaults and descriptions; the table here also
shows what the schema allows (ranges, values, patterns, no duplicates, secrets), so that
what `tap-liine` checks before its first request is what a reader sees.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def allowed(schema: dict[str, t.Any]) -> str:
    """What the schema allows, in words."""
    sys.path.insert(0, str(ROOT))
    from tap_liine.settings import meaning

    parts = []
    items = schema.get("items") or {}
    for source in (schema, items):
        if "enum" in source:
            parts.append(", ".join(f"`{value}`" for value in source["enum"]))
        if "pattern" in source:
            parts.append(meaning(source))
        low, high = source.get("minimum", source.get("exclusiveMinimum")), source.get("maximum")
        if low is not None or high is not None:
            above = f"> {low}" if "exclusiveMinimum" in source else f"≥ {low}"
            parts.append(" and ".join(p for p in (above if low is not None else "", f"≤ {high}" if high else "") if p))
    if schema.get("uniqueItems"):
        parts.append("no duplicates")
    if schema.get("propertyNames"):
        parts.append("not " + ", ".join(f"`{n}`" for n in schema["propertyNames"]["not"]["enum"]))
    if schema.get("secret"):
        parts.append("secret: never logged")
    return "; ".join(parts)


def table() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tap_liine", "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    settings = json.loads(out.stdout)["settings"]
    required = set(settings.get("required", []))
    rows = ["| Setting | Required | Default | Allowed | Description |", "|:--|:--:|:--:|:--|:--|"]
    for name, schema in settings["properties"].items():
        default = schema.get("default")
        shown = "" if default in (None, {}) else f"`{json.dumps(default)}`"
        description = re.sub(r"\s+", " ", schema.get("description") or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {'yes' if name in required else ''} | {shown} | {allowed(schema)} | {description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    text = README.read_text()
    text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{table()}\n{END}", text, flags=re.S)
    README.write_text(text)
    print("README settings table updated")
