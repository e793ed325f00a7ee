"""Where BATCH files are written: inside the batch root, private, complete or not at all.

Each file is written under a temporary name in the root itself (`.NAME.PID.part`) and
renamed when complete, so a target never reads half a file and nothing lands elsewhere (the
SDK's storage writes through the system temp directory and leaves the file there when a run
fails). On a local root files are created 0600 and missing folders 0700, whatever the
umask: they hold patient data. A run that fails removes its unfinished file; one that is
killed cannot, so each run first removes the unfinished files of runs no longer alive.
Other roots (`s3://...`) go through fsspec, with the same temporary names.
"""

from __future__ import annotations

import contextlib
import os
import typing as t
from pathlib import Path

from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

if t.TYPE_CHECKING:
    import logging

    from singer_sdk.batch import StorageTarget

FILE_MODE = 0o600
FOLDER_MODE = 0o700
PART_SUFFIX = ".part"


class PartFile:
    """One BATCH file being written: `commit` renames it into place, `discard` removes it."""

    def __init__(self, folder: BatchFolder, filename: str) -> None:
        self.folder, self.filename = folder, filename
        self.part = f"{folder.root}/.{filename}.{os.getpid()}{PART_SUFFIX}"
        self.file: t.BinaryIO = folder.create(self.part)

    def commit(self) -> str:
        """Close, rename into place; the file's URL, for a BATCH message."""
        self.file.close()
        self.folder.fs.mv(self.part, f"{self.folder.root}/{self.filename}")
        return self.folder.storage.get_url(self.filename)

    def discard(self) -> None:
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.folder.fs.rm_file(self.part)


class BatchFolder:
    """The batch root of `batch_config.storage`."""

    def __init__(self, storage: StorageTarget, tap_name: str, logger: logging.Logger) -> None:
        self.storage = storage
        self.fs, root = url_to_fs(storage.root, **storage.params)
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        self.part_prefix = f".{storage.prefix or ''}{tap_name}--"
        self.logger = logger

    def open(self, filename: str) -> PartFile:
        return PartFile(self, filename)

    def create(self, path: str) -> t.BinaryIO:
        if not self.local:
            return t.cast("t.BinaryIO", self.fs.open(path, "wb"))
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.fchmod(descriptor, FILE_MODE)  # the umask may have taken bits off; never more than 0600
        return os.fdopen(descriptor, "wb")

    def prepare(self) -> None:
        """Before a run's first file: the root (missing folders 0700), killed runs' leftovers removed."""
        if not self.local:
            self.fs.makedirs(self.root, exist_ok=True)
            return
        root = Path(self.root)
        for folder in reversed([root, *root.parents]):  # each missing folder, outermost first
            if not folder.exists():
                folder.mkdir(mode=FOLDER_MODE)
                folder.chmod(FOLDER_MODE)
        self._remove_leftovers(root)

    def _remove_leftovers(self, root: Path) -> None:
        """Unfinished files of this tap's runs that are no longer running (killed)."""
        removed = 0
        for path in root.glob(f"{self.part_prefix}*{PART_SUFFIX}"):
            pid = path.name.removesuffix(PART_SUFFIX).rpartition(".")[2]
            if pid.isdigit() and not _running(int(pid)):
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            self.logger.warning(
                "Removed %d unfinished BATCH file(s) from %s, left by a run that was stopped.", removed, root
            )


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
