"""meltano.yml, the Meltano Hub definition, the README and `tap-liine --about` must agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from plugin_definition import MELTANO_CAPABILITIES, hub_definition  # noqa: E402


def _about(fmt: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "tap_liine", "--about", f"--format={fmt}"], capture_output=True, text=True, check=True
    ).stdout


def _extractor() -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-liine")


def _shape(settings: list[dict]) -> dict[str, tuple]:
    return {s["name"]: (s["kind"], bool(s.get("sensitive")), s.get("description")) for s in settings}


def test_hub_definition_is_what_about_says() -> None:
    about = json.loads(_about("json"))
    committed = yaml.safe_load((ROOT / "hub" / "extractors" / "tap-liine.yml").read_text())
    assert committed == hub_definition(about), "run: python scripts/plugin_definition.py"
    secrets = {name for name, schema in about["settings"]["properties"].items() if schema.get("secret")}
    assert secrets == {"password", "conversations_api_key", "interactly_api_key"}
    assert {s["name"] for s in committed["settings"] if s.get("sensitive")} == secrets
    assert set(MELTANO_CAPABILITIES) <= set(about["capabilities"])
    for key in ("name", "namespace", "variant", "pip_url", "repo", "capabilities", "keywords", "maintenance_status"):
        assert committed[key]


def test_meltano_yml_declares_the_same_settings_and_capabilities() -> None:
    hub = yaml.safe_load((ROOT / "hub" / "extractors" / "tap-liine.yml").read_text())
    extractor = _extractor()
    assert _shape(extractor["settings"]) == _shape(hub["settings"])
    assert extractor["capabilities"] == hub["capabilities"]
    assert extractor["settings_group_validation"] == hub["settings_group_validation"]
    assert extractor["namespace"] == hub["namespace"]


def test_readme_settings_table_is_the_about_markdown() -> None:
    readme = (ROOT / "README.md").read_text()
    table = [line for line in _about("markdown").splitlines() if line.startswith("|")]
    assert table
    missing = [line for line in table if line not in readme]
    assert not missing, f"README settings table is stale; first missing row: {missing[0]}"


def test_readme_lists_every_sandbox_reading() -> None:
    from tap_liine.sandbox.readings import table

    assert table() in (ROOT / "README.md").read_text(), "run: python scripts/readme_readings.py"
