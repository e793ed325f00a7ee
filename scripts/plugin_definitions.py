"""Write tap-liine's Meltano Hub definition and the plugin definitions in meltano.yml, from `--about`.

- hub/_data/meltano/extractors/tap-liine/tap-liine.yml: as the Hub's `hub-utils update-definition`
  writes it: settings, capabilities and Python versions from `tap-liine --about --format=json`
  through the Hub's own parser (scripts/hub_utils, vendored), the per-plugin overrides the
  Hub keeps (`OVERRIDES`), and the Hub's formatting (sorted keys, settings and capabilities).
- meltano.yml: the tap-liine extractor (same settings) and every loader (settings from the
  loader's own `--about`, when installed) in the form Meltano itself writes, so that
  `meltano config set` changes only the lines it must.

Run `python scripts/plugin_definitions.py` after changing a setting or a loader pin;
tests/test_plugin_definitions.py fails while they disagree.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import typing as t
from pathlib import Path

from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hub_utils.meltano_util import MeltanoUtil, fix_arrays, fix_yaml_dict_format

ROOT = Path(__file__).resolve().parent.parent
HUB_FILE = ROOT / "hub" / "_data" / "meltano" / "extractors" / "tap-liine" / "tap-liine.yml"
MELTANO_YML = ROOT / "meltano.yml"
GROUPS = [  # a source is configured when one of these is complete (Meltano checks before a run)
    ["start_date", "username", "password", "customer_ids"],
    ["start_date", "conversations_api_key", "conversations_subdomain", "conversations_location_ids"],
    ["start_date", "interactly_api_key", "interactly_integration_ids"],
]
# Loader settings whose values are secrets although their --about does not say so.
SECRETS = {"password", "sqlalchemy_url", "private_key", "private_key_passphrase", "ssl_client_private_key",
           "oauth_access_token"}  # fmt: skip
# Meltano's own key orders (ProjectPlugin, SettingDefinition), as `meltano config set` writes them.
PLUGIN_KEYS = ("name", "inherit_from", "namespace", "variant", "pip_url", "executable", "capabilities",
               "settings_group_validation", "settings", "env", "config", "select")  # fmt: skip
SETTING_KEYS = ("name", "aliases", "env", "kind", "value", "label", "documentation", "description", "tooltip",
                "options", "placeholder", "hidden", "sensitive")  # fmt: skip


def about(executable: list[str]) -> dict[str, t.Any]:
    out = subprocess.run([*executable, "--about", "--format=json"], capture_output=True, text=True, check=True)
    return t.cast("dict[str, t.Any]", json.loads(out.stdout))


def hub_settings(info: dict[str, t.Any]) -> tuple[list[dict[str, t.Any]], list[str], list[str] | None]:
    """Settings, capabilities and Python versions as the Hub derives them, with the Hub-style overrides."""
    settings, _, capabilities, pythons = MeltanoUtil._parse_sdk_about_settings(info)
    numbers = {name for name, schema in info["settings"]["properties"].items() if "number" in schema.get("type", [])}
    for setting in settings:
        if setting["name"] in numbers:
            setting["kind"] = "decimal"  # the parser's known TODO: numbers are not integers
        if setting["name"] in SECRETS and setting["kind"] == "string":
            setting["kind"], setting["sensitive"] = "password", True
    return settings, capabilities or [], pythons


def hub_definition(info: dict[str, t.Any]) -> dict[str, t.Any]:
    settings, capabilities, pythons = hub_settings(info)
    definition = {
        "name": "tap-liine",
        "namespace": "tap_liine",
        "variant": "tap-liine",
        "label": "Liine",
        "description": "Call and lead interactions, patient conversations and appointment statistics",
        "logo_url": "/assets/logos/extractors/liine.png",
        "domain_url": "https://www.liine.com",
        "repo": "https://github.com/tap-liine/tap-liine",
        "pip_url": "tap-liine",
        "executable": "tap-liine",
        "maintenance_status": "active",
        "quality": MeltanoUtil.get_quality("tap-liine", True, 0, "high"),
        "keywords": ["meltano_sdk", "marketing attribution", "healthcare", "dental", "call tracking"],
        "capabilities": capabilities,
        "settings_group_validation": GROUPS,
        "settings": settings,
        "supported_python_versions": pythons,
        "log_parser": "singer-sdk",  # what hub-utils adds for SDK taps with structured logging
        "select": ["*.*"],
    }
    return fix_yaml_dict_format(fix_arrays(definition))


def meltano_setting(setting: dict[str, t.Any]) -> dict[str, t.Any]:
    """A setting as Meltano writes it: its key order, and `password` spelt `string` + `sensitive`."""
    setting = dict(setting)
    if setting.get("kind") == "password":
        setting["kind"], setting["sensitive"] = "string", True
    return {key: setting[key] for key in SETTING_KEYS if key in setting}


def dump_hub(definition: dict[str, t.Any]) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=2, offset=0)
    out = io.StringIO()
    yaml.dump(definition, out)
    return out.getvalue()


def update_meltano_yml(hub: dict[str, t.Any], loaders: dict[str, dict[str, t.Any]]) -> str:
    """meltano.yml with the tap's and the installed loaders' definitions regenerated; the rest kept."""
    yaml = YAML()  # round trip: comments and environments stay as they are
    yaml.default_flow_style = False
    yaml.width = sys.maxsize  # Meltano never wraps lines
    project = yaml.load(MELTANO_YML.read_text())
    for plugin in project["plugins"]["extractors"]:
        if plugin["name"] == "tap-liine":
            plugin["capabilities"] = hub["capabilities"]
            plugin["settings_group_validation"] = hub["settings_group_validation"]
            plugin["settings"] = [meltano_setting(s) for s in sorted(hub["settings"], key=_about_order())]
    for plugin in project["plugins"]["loaders"]:
        if plugin["name"] in loaders:
            plugin["settings"] = [meltano_setting(s) for s in loaders[plugin["name"]]]
    for plugins in project["plugins"].values():
        for plugin in plugins:
            _order(plugin)
    out = io.StringIO()
    yaml.dump(project, out)
    return out.getvalue()


def _about_order() -> t.Callable[[dict[str, t.Any]], int]:
    """meltano.yml lists the tap's settings in --about's order (the README's), the Hub alphabetically."""
    names = list(TAP_ABOUT["settings"]["properties"])
    return lambda setting: names.index(setting["name"].split(".")[0]) if setting["name"].split(".")[0] in names else 0


def _order(plugin: t.Any) -> None:
    items = [(key, plugin[key]) for key in PLUGIN_KEYS if key in plugin]
    items += [(key, value) for key, value in plugin.items() if key not in PLUGIN_KEYS]
    for key in list(plugin):
        del plugin[key]
    for key, value in items:
        plugin[key] = value


def loader_settings() -> dict[str, dict[str, t.Any]]:
    """Each installed loader's settings, from its own --about (stream maps etc. left out: not loader setup)."""
    out = {}
    builtin = ("stream_map", "faker_config", "flattening_", "batch_config")
    for name, executable in (("target-postgres", "target-postgres"), ("target-snowflake", "target-snowflake")):
        binary = ROOT / ".meltano" / "loaders" / name / "venv" / "bin" / executable
        if binary.exists():
            settings, _, _ = hub_settings(about([str(binary)]))
            out[name] = [s for s in settings if not s["name"].startswith(builtin)]
    return out


TAP_ABOUT = about([sys.executable, "-m", "tap_liine"])

if __name__ == "__main__":
    hub = hub_definition(TAP_ABOUT)
    HUB_FILE.parent.mkdir(parents=True, exist_ok=True)
    HUB_FILE.write_text(dump_hub(hub))
    MELTANO_YML.write_text(update_meltano_yml(hub, loader_settings()))
    print(f"wrote {HUB_FILE.relative_to(ROOT)} and meltano.yml")
