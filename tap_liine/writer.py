"""How Singer messages leave the tap: msgspec-encoded, and each stream's SCHEMA once.

msgspec encodes RECORD lines several times faster than the SDK's default writer. The SDK
sends a SCHEMA message each time it syncs a stream, and it syncs a child stream once per
parent record (`conversation_messages`: once per conversation); a SCHEMA identical to
the one last sent for its stream is not sent again.
"""

from __future__ import annotations

import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import SchemaMessage

if t.TYPE_CHECKING:
    from singer_sdk.singerlib import Message


class SchemaOnce:
    """Mixed into a Singer writer: repeated identical SCHEMA messages are dropped."""

    def write_message(self, message: Message) -> None:
        if isinstance(message, SchemaMessage):
            sent: dict[str, SchemaMessage] = self.__dict__.setdefault("_schemas_sent", {})
            if sent.get(message.stream) == message:
                return
            sent[message.stream] = message
        super().write_message(message)  # type: ignore[misc]  # a mixin: super() is the writer it joins


class TapWriter(SchemaOnce, MsgSpecWriter):
    """The tap's message writer."""
