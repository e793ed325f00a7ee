"""Dagster orchestration of tap-liine: the practices split into shards, each its own `meltano run`.

The code location is `liine_orchestrate.definitions`; `python -m liine_orchestrate.practices` shows the split.
"""
