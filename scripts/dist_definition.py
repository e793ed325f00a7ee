"""Write dist/tap-liine.yml: the Meltano Hub definition with `pip_url` set to the wheel in dist/.

Until tap-liine is on PyPI, any Meltano project can then add it from this checkout:
`meltano add --plugin-type extractor tap-liine --from-ref /path/to/tap-liine/dist/tap-liine.yml`.
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
HUB_FILE = ROOT / "hub" / "_data" / "meltano" / "extractors" / "tap-liine" / "tap-liine.yml"


def write_definition(dist: Path) -> Path:
    """dist/tap-liine.yml for the wheel in `dist`; returns its path."""
    wheel = next(dist.glob("tap_liine-*.whl"))
    yaml = YAML()
    definition = yaml.load(HUB_FILE.read_text())
    definition["pip_url"] = str(wheel.resolve())
    target = dist / "tap-liine.yml"
    with target.open("w") as out:
        yaml.dump(definition, out)
    return target


if __name__ == "__main__":
    written = write_definition(ROOT / "dist")
    print(f"wrote {written.relative_to(ROOT)}")
