"""The Singer SDK's standard tap tests, against a sandbox served for this test class.

`get_tap_test_class` builds its test methods from a config when the class is defined, but
only reads stream names and settings from it then; the sync happens in the class-scoped
`runner` fixture. So the class is built from a placeholder address (pure data, nothing
starts at import) and `runner` is replaced by one that serves a sandbox and syncs from it.
"""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.testing import get_tap_test_class
from singer_sdk.testing.runners import TapTestRunner

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.server import SandboxServer
from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config

_SETTINGS: dict[str, t.Any] = {"page_size": 50, "start_date": "2026-09-01T00:00:00Z"}
_PLACEHOLDER = all_sources_config("http://127.0.0.1:9", **_SETTINGS)


class TestTapLiine(get_tap_test_class(tap_class=TapLiine, config=_PLACEHOLDER)):  # type: ignore[misc]
    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls) -> t.Iterator[TapTestRunner]:
        liine = LiineApi(scale=600, tie_rate=0.3)
        server = SandboxServer([liine, ConversationsApi(conversations_per_location=40), InteractlyApi(days=60)]).start()
        try:
            runner = TapTestRunner(tap_class=TapLiine, config=all_sources_config(server.url, **_SETTINGS))
            runner.sync_all()
            assert runner.records, "the standard tests need records to check"
            yield runner
        finally:
            server.stop()
