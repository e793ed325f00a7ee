"""The wheel and sdist build cleanly and say what the ecosystem expects of them."""

from __future__ import annotations

import ast
import email
import importlib.metadata
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _metadata(dist: Path) -> email.message.Message:
    wheel = next(dist.glob("tap_liine-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def _third_party_imports() -> set[str]:
    """Top-level modules the package imports that are neither its own nor the standard library's."""
    names = set()
    for path in (ROOT / "tap_liine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in {"tap_liine", "__future__"}}


def _normalized(requirement: str) -> str:
    return re.split(r"[\s\[<>=~!;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_metadata_says_what_pyproject_says(dist) -> None:
    meta = _metadata(dist)
    assert meta["Name"] == "tap-liine"
    assert meta["Version"] == "0.1.0"
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["License-File"] == "LICENSE"
    assert meta["Requires-Python"] == ">=3.10"
    pythons = {c.rsplit(" :: ", 1)[1] for c in meta.get_all("Classifier") if re.search(r"Python :: 3\.\d+$", c)}
    assert pythons == {"3.10", "3.11", "3.12", "3.13", "3.14"}
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Repository", "Issues"} <= set(urls)
    assert meta.get_payload().startswith("# tap-liine")  # the README is the long description


def test_every_imported_package_is_declared(dist) -> None:
    requirements = _metadata(dist).get_all("Requires-Dist")
    declared = {_normalized(r) for r in requirements if "extra ==" not in r}
    optional = {_normalized(r) for r in requirements if "extra ==" in r}
    assert optional == {"pyarrow"}  # `tap-liine[parquet]`
    providers = importlib.metadata.packages_distributions()
    for module in _third_party_imports():
        distributions = {d.lower().replace("_", "-") for d in providers.get(module, [])}
        assert distributions & (declared | optional), (
            f"{module} (from {sorted(distributions)}) is imported but not declared"
        )
    # An optional package is imported only when used: the tap runs without it.
    loaded = subprocess.run([sys.executable, "-c", "import sys, tap_liine.tap; print(sorted(sys.modules))"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "'pyarrow'" not in loaded


def test_the_wheel_holds_the_package_and_its_licence_and_the_sdist_its_sources(dist) -> None:
    wheel = next(dist.glob("tap_liine-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "tap_liine/tap.py" in names and "tap_liine/sandbox/server.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "scripts/", "hub/")) for n in names)
    assert "tap-liine = tap_liine.tap:TapLiine.cli" in entry_points
    assert "tap-liine-sandbox = tap_liine.sandbox.__main__:main" in entry_points
    with tarfile.open(next(dist.glob("tap_liine-*.tar.gz"))) as sdist:
        members = {Path(m).relative_to(Path(m).parts[0]).as_posix() for m in sdist.getnames() if "/" in m}
    assert {"LICENSE", "README.md", "pyproject.toml", "tap_liine/tap.py"} <= members
    assert not any(m.startswith((".venv", ".meltano", "output/")) for m in members)


def test_the_release_workflow_publishes_on_a_version_tag() -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert workflow[True]["push"]["tags"] == ["v*"]  # YAML reads the key `on` as true
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(step.get("run") == "uv build" for step in steps)
    assert any(step.get("uses", "").startswith("pypa/gh-action-pypi-publish") for step in steps)
    assert workflow["jobs"]["publish"]["permissions"]["id-token"] == "write"
    # Nothing is built or published unless the whole suite (CI's entry point) passed first.
    assert workflow["jobs"]["build"]["needs"] == "test" and workflow["jobs"]["publish"]["needs"] == "build"
    assert [step["run"] for step in workflow["jobs"]["test"]["steps"] if "run" in step][-1] == "tap-liine/.ci/run"


def test_dbt_user_files_are_neither_committed_nor_committable() -> None:
    profiles = ROOT / "transform" / "profiles"
    tracked = subprocess.run(["git", "ls-files", str(profiles)], cwd=ROOT, capture_output=True, text=True, check=True)
    assert not [line for line in tracked.stdout.splitlines() if line.endswith(".user.yml")]
    user_files = [str(profiles / target / ".user.yml") for target in ("duckdb", "postgres", "snowflake")]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *user_files], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert ignored.stdout.split() == user_files
