"""The Singer SDK's standard tap tests, against a sandbox served for this module."""

from __future__ import annotations

from singer_sdk.testing import get_tap_test_class

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.server import SandboxServer
from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config

# get_tap_test_class needs its config when the class is built, hence a module-level server.
_SERVER = SandboxServer(
    [LiineApi(scale=600, tie_rate=0.3), ConversationsApi(conversations_per_location=40), InteractlyApi(days=60)]
).start()
_CONFIG = all_sources_config(_SERVER.url, page_size=50, start_date="2026-09-01T00:00:00Z")

TestTapLiine = get_tap_test_class(tap_class=TapLiine, config=_CONFIG)


def teardown_module() -> None:
    _SERVER.stop()
