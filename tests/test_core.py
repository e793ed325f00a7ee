"""The Singer SDK's standard tap tests, against a sandbox served for this module."""

from __future__ import annotations

from singer_sdk.testing import get_tap_test_class

from tap_liine.sandbox.conversations import ConversationsApi
from tap_liine.sandbox.interactly import InteractlyApi
from tap_liine.sandbox.liine import LiineApi
from tap_liine.sandbox.server import SandboxServer
from tap_liine.tap import TapLiine
from tests.helpers import liine_config

# get_tap_test_class needs its config when the class is built, hence a module-level server.
_SERVER = SandboxServer(
    [LiineApi(scale=600, tie_rate=0.3), ConversationsApi(conversations_per_location=40), InteractlyApi(days=60)]
).start()
_CONFIG = liine_config(
    _SERVER.url,
    page_size=50,
    conversations_api_url=_SERVER.url,
    conversations_api_key="demo-conversations-key",
    conversations_subdomain="bright-smiles",
    conversations_location_ids=["3001", "3002"],
    interactly_api_url=_SERVER.url,
    interactly_api_key="demo-interactly-key",
    interactly_integration_ids=["5eb7cf5a86d9755df3a6c593"],
    start_date="2026-09-01T00:00:00Z",
)

TestTapLiine = get_tap_test_class(tap_class=TapLiine, config=_CONFIG)


def teardown_module() -> None:
    _SERVER.stop()
