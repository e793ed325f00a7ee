"""Write the Meltano Hub definition of tap-liine from `tap-liine --about --format=json`.

Run `python scripts/plugin_definition.py` after changing a setting; tests/test_plugin_definitions.py
fails while hub/extractors/tap-liine.yml, meltano.yml and --about disagree.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HUB_FILE = ROOT / "hub" / "extractors" / "tap-liine.yml"
# Capabilities as Meltano names them (the SDK's --about lists a few Meltano does not know).
MELTANO_CAPABILITIES = ("about", "batch", "catalog", "discover", "schema-flattening", "state", "stream-maps")


def about() -> dict[str, t.Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tap_liine", "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    return t.cast("dict[str, t.Any]", json.loads(out.stdout))


def kind_of(schema: dict[str, t.Any]) -> str:
    types = schema.get("type", "string")
    kind = next((k for k in ([types] if isinstance(types, str) else types) if k != "null"), "string")
    if schema.get("secret"):
        return "password"
    if kind == "string" and schema.get("format") == "date-time":
        return "date_iso8601"
    return {"number": "decimal"}.get(kind, kind)


def settings(info: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    out = []
    for name, schema in info["settings"]["properties"].items():
        entry: dict[str, t.Any] = {"name": name, "kind": kind_of(schema)}
        if schema.get("title"):
            entry["label"] = schema["title"]
        if schema.get("description"):
            entry["description"] = schema["description"]
        if "default" in schema and schema["default"] not in ({}, None):
            entry["value"] = schema["default"]
        if schema.get("secret"):
            entry["sensitive"] = True
        out.append(entry)
    return out


def hub_definition(info: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "name": "tap-liine",
        "namespace": "tap_liine",
        "variant": "tap-liine",
        "label": "Liine",
        "description": "Liine call and lead interactions, patient conversations and Interactly appointment statistics",
        "logo_url": "https://app.liine.com/static/images/liine-logo.svg",
        "domain_url": "https://www.liine.com",
        "repo": "https://github.com/tap-liine/tap-liine",
        "pip_url": "tap-liine",
        "executable": "tap-liine",
        "maintenance_status": "active",
        "keywords": ["meltano_sdk", "marketing attribution", "healthcare", "dental", "call tracking"],
        "capabilities": list(MELTANO_CAPABILITIES),
        "settings_group_validation": [
            ["start_date", "username", "password", "customer_ids"],
            ["start_date", "conversations_api_key", "conversations_subdomain", "conversations_location_ids"],
            ["start_date", "interactly_api_key", "interactly_integration_ids"],
        ],
        "settings": settings(info),
    }


if __name__ == "__main__":
    HUB_FILE.parent.mkdir(parents=True, exist_ok=True)
    HUB_FILE.write_text(yaml.safe_dump(hub_definition(about()), sort_keys=False, allow_unicode=True, width=100))
    print(f"wrote {HUB_FILE.relative_to(ROOT)}")
