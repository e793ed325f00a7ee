"""Write tap-liine's Meltano Hub definition and the plugin definitions in meltano.yml, from `--about`.

- hub/_data/meltano/extractors/tap-liine/tap-liine.yml: in the form the Hub's own tool
  (`hub-utils update-definition`) gives a definition: settings, capabilities and Python
  versions from `tap-liine --about --format=json` (each nested setting under its dotted
  name, a string whose name says password/id/token/key/secret as a secret, as the Hub reads
  them), and the Hub's formatting (keys, settings and capabilities sorted).
  tests/test_plugin_definitions.py checks it with the Hub's own schemas, yamllint rules and
  CI scripts, in place in ../shared/meltano-hub.
- meltano.yml: the tap-liine extractor (same settings) and every loader (settings from the
  loader's own `--about`, when installed) in the form Meltano itself writes, so that
  `meltano config set` changes only the lines it must.

Run `python scripts/plugin_definitions.py` after changing a setting or a loader pin;
tests/test_plugin_definitions.py fails while they disagree.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import typing as t
from pathlib import Path

from ruamel.yaml import YAML

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
# How the Hub spells words of a label made from a setting's name.
LABEL_WORDS = {"Id": "ID", "Ids": "IDs", "Url": "URL", "Api": "API", "Ssl": "SSL", "Ssh": "SSH", "Gzip": "GZIP",
               "Jsonl": "JSONL", "Sqlalchemy": "SQLAlchemy", "Oauth": "OAuth", "Aws": "AWS",
               "Db": "Database"}  # fmt: skip
SECRET_WORDS = ("password", "id", "token", "key", "secret")


def about(executable: list[str]) -> dict[str, t.Any]:
    out = subprocess.run([*executable, "--about", "--format=json"], capture_output=True, text=True, check=True)
    return t.cast("dict[str, t.Any]", json.loads(out.stdout))


def label(name: str) -> str:
    words = name.replace("_", " ").replace("-", " ").replace(".", " ").split()
    return " ".join(LABEL_WORDS.get(word.title(), word.title()) for word in words)


def _leaves(schema: dict[str, t.Any], prefix: str = "") -> t.Iterator[tuple[str, dict[str, t.Any]]]:
    """Each setting under its dotted name; an object with properties is a group, stream_maps one setting."""
    for key, sub in schema.get("properties", {}).items():
        if sub.get("properties") and key != "stream_maps":
            yield from _leaves(sub, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", sub


def _alternatives(schema: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    return t.cast("list[dict[str, t.Any]]", schema.get("oneOf") or schema.get("anyOf") or [])


def _kind(name: str, schema: dict[str, t.Any]) -> str:
    types: list[str] = []  # its own type(s), else its alternatives' (e.g. a string or a list of them)
    for declared in [schema.get("type")] if schema.get("type") else [alt.get("type") for alt in _alternatives(schema)]:
        types += [kind for kind in ([declared] if isinstance(declared, str) else declared or []) if kind != "null"]
    kind = types[0] if len(set(types)) == 1 else "array" if "array" in types else "string"
    if name == "stream_maps":
        return "object"
    if kind == "number":
        return "decimal"
    if kind != "string":
        return str(kind)
    if schema.get("format") in ("date-time", "date") or name in ("start_date", "end_date"):
        return "date_iso8601"
    if schema.get("secret") or name in SECRETS or any(word in name.lower() for word in SECRET_WORDS):
        return "password"
    return "options" if schema.get("enum") else "string"


def hub_settings(info: dict[str, t.Any]) -> tuple[list[dict[str, t.Any]], list[str], list[str] | None]:
    """Settings, capabilities and the "3.x" Python versions of an SDK plugin's --about, as the Hub lists them."""
    settings = []
    for name, schema in _leaves(info["settings"]):
        kind = _kind(name, schema)
        setting = {
            "name": name,
            "label": schema.get("title") or label(name),
            "description": schema.get("description") or "",
            "kind": kind,
        }
        if kind == "options":
            setting["options"] = [{"label": label(value), "value": value} for value in schema["enum"]]
        if schema.get("default") is not None and kind != "date_iso8601":
            setting["value"] = schema["default"]
        if kind == "password":
            setting["sensitive"] = True
        settings.append(setting)
    pythons = [v for v in info.get("supported_python_versions") or [] if re.fullmatch(r"3\.\d+", v)]
    return settings, info.get("capabilities") or [], pythons or None


def _sorted(value: t.Any) -> t.Any:
    """The Hub's formatting: every mapping's keys sorted, nested too."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


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
        "quality": "silver",  # what the Hub rates a community SDK tap with responsive maintainers
        "keywords": ["meltano_sdk", "marketing attribution", "healthcare", "dental", "call tracking"],
        "capabilities": sorted(capabilities),
        "settings_group_validation": [sorted(group) for group in GROUPS],
        "settings": sorted(settings, key=lambda setting: setting["name"]),
        "supported_python_versions": pythons,
        "log_parser": "singer-sdk",  # what hub-utils adds for SDK taps with structured logging
        "select": ["*.*"],
    }
    return t.cast("dict[str, t.Any]", _sorted(definition))


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
