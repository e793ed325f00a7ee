"""meltano.yml, the Meltano Hub definition, the README and `tap-liine --about` agree; the Hub's own checks pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HUB_FILE = ROOT / "hub" / "_data" / "meltano" / "extractors" / "tap-liine" / "tap-liine.yml"
sys.path.insert(0, str(ROOT / "scripts"))
import plugin_definitions  # noqa: E402
import readme_settings  # noqa: E402


def _about() -> dict:
    return plugin_definitions.TAP_ABOUT


def _project() -> dict:
    return yaml.safe_load((ROOT / "meltano.yml").read_text())


def _plugin(kind: str, name: str) -> dict:
    return next(p for p in _project()["plugins"][kind] if p["name"] == name)


def test_hub_definition_is_generated_from_about_as_the_hub_does() -> None:
    hub = plugin_definitions.hub_definition(_about())
    assert HUB_FILE.read_text() == plugin_definitions.dump_hub(hub), "run: python scripts/plugin_definitions.py"
    committed = yaml.safe_load(HUB_FILE.read_text())
    assert committed["capabilities"] == sorted(_about()["capabilities"])
    assert {"activate-version", "structured-logging", "batch", "state"} <= set(committed["capabilities"])
    assert committed["quality"] == "silver"
    assert committed["supported_python_versions"] == _about()["supported_python_versions"]
    names = [s["name"] for s in committed["settings"]]
    assert names == sorted(names) and {"batch_config.encoding.format", "batch_config.storage.root"} <= set(names)
    secrets = {name for name, schema in _about()["settings"]["properties"].items() if schema.get("secret")}
    assert secrets == {"password", "conversations_api_key", "interactly_api_key"}
    assert {s["name"] for s in committed["settings"] if s.get("sensitive")} == secrets
    logo = ROOT / "hub" / "static" / committed["logo_url"].lstrip("/")
    assert logo.read_bytes().startswith(b"\x89PNG")


def _meltano_hub() -> Path:
    """Meltano Hub's own schemas, yamllint rules and CI scripts, kept beside the clone (../shared/meltano-hub).

    "The clone" is the main checkout's folder when this is a git worktree of it."""
    command = ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"]
    try:
        common = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:  # no git: a plain copy of the sources
        common = ""
    clones = [ROOT, *([Path(common).parent] if common else [])]
    for clone in clones:
        if (hub := clone.parent / "shared" / "meltano-hub" / "schemas").is_dir():
            return hub.parent
    pytest.skip("Meltano Hub's schemas, lint rules and CI scripts are not beside this clone (../shared/meltano-hub)")


def _hub_script(hub: Path, script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """One of the Hub's CI scripts, run in place (it reads schemas/ or _data/ from its working directory)."""
    command = [sys.executable, str(hub / "utility_scripts" / "plugin_definitions" / script), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def test_hub_definition_passes_the_hubs_schema_lint_and_name_checks() -> None:
    hub = _meltano_hub()
    schema = _hub_script(hub, "plugin_schema_validate.py", f"{ROOT / 'hub' / '_data' / 'meltano'}/", cwd=hub)
    assert schema.returncode == 0 and "All plugins pass the JSON Schema" in schema.stdout, schema.stdout
    assert '"extractors": "Plugins: 1, Variants: 1"' in schema.stdout, schema.stdout
    names = _hub_script(hub, "yaml_check_names.py", cwd=ROOT / "hub")
    assert names.returncode == 0 and "All taps and targets have expected names" in names.stdout, names.stdout
    lint = subprocess.run(
        [sys.executable, "-m", "yamllint", "--strict", "-c", str(hub / ".yamllint.yaml"), str(HUB_FILE)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout


def test_meltano_yml_declares_what_the_hub_definition_declares() -> None:
    hub = yaml.safe_load(HUB_FILE.read_text())
    extractor = _plugin("extractors", "tap-liine")
    expected = {s["name"]: plugin_definitions.meltano_setting(s) for s in hub["settings"]}
    assert {s["name"]: s for s in extractor["settings"]} == expected
    assert extractor["capabilities"] == hub["capabilities"]
    assert extractor["settings_group_validation"] == hub["settings_group_validation"]
    assert extractor["namespace"] == hub["namespace"]


@pytest.mark.parametrize("loader", ["target-postgres", "target-snowflake"])
def test_loaders_declare_every_setting_their_about_lists(loader) -> None:
    installed = plugin_definitions.loader_settings()
    if loader not in installed:
        pytest.skip(f"{loader} is not installed (make install)")
    declared = _plugin("loaders", loader)["settings"]
    assert declared == [plugin_definitions.meltano_setting(s) for s in installed[loader]]
    secrets = {
        "target-postgres": {"password", "sqlalchemy_url", "ssl_client_private_key"},
        "target-snowflake": {"password", "private_key", "private_key_passphrase", "oauth_access_token"},
    }
    assert secrets[loader] <= {s["name"] for s in declared if s.get("sensitive")}
    production = {
        "target-postgres": {"use_copy", "sqlalchemy_url", "ssl_enable", "ssl_mode", "ssl_certificate_authority"},
        "target-snowflake": {"private_key_path", "timestamp_type", "role", "warehouse", "schema"},
    }
    assert production[loader] <= {s["name"] for s in declared}


def test_readme_settings_table_is_the_about_schema() -> None:
    assert readme_settings.table() in (ROOT / "README.md").read_text(), "run: python scripts/readme_settings.py"


def test_readme_lists_every_sandbox_reading() -> None:
    from tap_liine.sandbox.readings import table

    assert table() in (ROOT / "README.md").read_text(), "run: python scripts/readme_readings.py"


def test_about_lists_the_capabilities_meltano_relies_on() -> None:
    command = [sys.executable, "-m", "tap_liine", "--about", "--format=json"]
    about = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    assert {"catalog", "discover", "state", "about", "stream-maps", "batch"} <= set(about["capabilities"])
