"""Where attachment bytes live: stored once by their SHA-256, never overwritten in place.

The database holds only the digest. A file is durable (written, fsynced, renamed into
place, directory fsynced) before the transaction that refers to it commits, so a ticket
acknowledged to a citizen never points at a missing file. A crash in between leaves at
worst an unreferenced file, which is harmless and can be swept.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from minyi.core.config import get_settings

_SHA256 = re.compile(r"[0-9a-f]{64}")


class FileStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store the bytes (if not already there) and return their SHA-256 in hex."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes for reading; `FileNotFoundError` when there are none."""
        ...

    def exists(self, sha256: str) -> bool: ...


def _checked(sha256: str) -> str:
    # The digest becomes a path: anything but 64 hex digits could walk out of the store.
    if not _SHA256.fullmatch(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return sha256


class DirectoryFileStore:
    """Files at `<root>/ab/cd/<sha256>`: two levels of 256 keep directories small."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        sha = _checked(sha256)
        return self.root / sha[:2] / sha[2:4] / sha

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path_for(sha)
        if self._intact(target, sha, len(data)):
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            # Atomic: a reader sees no file or the whole file, never a part.
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        _fsync_dir(target.parent)
        return sha

    def open(self, sha256: str) -> BinaryIO:
        return self.path_for(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    @staticmethod
    def _intact(path: Path, sha: str, size: int) -> bool:
        """The same content is already stored whole (a damaged copy is written again)."""
        try:
            if path.stat().st_size != size:
                return False
        except FileNotFoundError:
            return False
        digest = hashlib.sha256()
        with path.open("rb") as stored:
            for block in iter(lambda: stored.read(1024 * 1024), b""):
                digest.update(block)
        return digest.hexdigest() == sha


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MemoryFileStore:
    """A store in a dict, for tests of code that only needs some `FileStore`."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.files.setdefault(sha, bytes(data))
        return sha

    def open(self, sha256: str) -> BinaryIO:
        try:
            return io.BytesIO(self.files[_checked(sha256)])
        except KeyError:
            raise FileNotFoundError(sha256) from None

    def exists(self, sha256: str) -> bool:
        return _checked(sha256) in self.files


def get_file_store() -> FileStore:
    """The production store under `MINYI_FILES_DIR` (a FastAPI dependency; tests pass
    their own store instead)."""
    return DirectoryFileStore(get_settings().files_dir)
