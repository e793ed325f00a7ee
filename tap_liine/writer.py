"""How Singer messages leave the tap: msgspec-encoded, RECORDs buffered, each stream's SCHEMA once.

msgspec encodes RECORD lines several times faster than the SDK's default writer. The SDK's
msgspec writer flushes stdout after every message, one system call per record: a third of
the tap's CPU time. RECORD lines wait in stdout's buffer instead; every other message
(SCHEMA, STATE, BATCH, ACTIVATE_VERSION) is flushed at once, with every RECORD before it,
so a STATE never reaches the loader ahead of the records it covers, and a killed run loses
only records whose STATE it never sent. The SDK sends a SCHEMA message each time it syncs a
stream, and it syncs a child stream once per parent record (`conversation_messages`: once
per conversation); a SCHEMA identical to the one last sent for its stream is not sent again.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import typing as t
import weakref

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, SchemaMessage

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


class BufferedRecords(MsgSpecWriter):
    """The SDK's msgspec writer, RECORD lines gathered and written 64 KB at a time.

    Its own buffer, because stdout may have none (PYTHONUNBUFFERED=1 or `python -u`, common
    in containers): every write would then be a system call.
    """

    FLUSH_BYTES = 1 << 16

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = bytearray()
        # A run that fails still writes the records it read (no STATE covers them: harmless).
        atexit.register(_flush_if_alive, weakref.ref(self))

    def write_message(self, message: Message) -> None:
        if not self._pending:
            self._out = sys.stdout.buffer  # where these lines go, even if stdout is redirected later
        self._pending += self.format_message(message)  # a copy: the SDK reuses its encoding buffer
        if not isinstance(message, RecordMessage) or len(self._pending) >= self.FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write out every line held, then flush."""
        if not self._pending:
            return
        view = memoryview(self._pending)
        while view:  # an unbuffered stdout may take part of it
            view = view[self._out.write(view) or 0 :]
        view.release()
        self._pending.clear()
        self._out.flush()


def _flush_if_alive(writer: weakref.ref[BufferedRecords]) -> None:
    alive = writer()
    if alive is not None:
        with contextlib.suppress(ValueError, OSError):  # its stdout already closed
            alive.flush()


class TapWriter(SchemaOnce, BufferedRecords):
    """The tap's message writer."""
