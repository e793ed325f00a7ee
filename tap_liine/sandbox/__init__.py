"""Local simulator of the three source APIs, for tests, the demo and benchmarks."""

from tap_liine.sandbox.server import FaultSchedule, SandboxServer

__all__ = ["FaultSchedule", "SandboxServer"]
