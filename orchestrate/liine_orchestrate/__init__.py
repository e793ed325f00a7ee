"""Dagster orchestration of tap-liine: the practices split into shards, each its own `meltano run`."""

from liine_orchestrate.definitions import defs

__all__ = ["defs"]
