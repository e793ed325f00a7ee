"""`python -m tap_liine` runs the tap's CLI."""

from tap_liine.tap import TapLiine

TapLiine.cli()
