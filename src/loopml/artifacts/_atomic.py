"""Atomic file writes: write a temporary file beside the target, fsync, then rename.

``os.replace`` within one directory is atomic on POSIX and Windows, so a reader of
the target sees the old file, or no file, or the whole new file; never a part.

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.bin"
    >>> with atomic_write(target) as stream:
    ...     _ = stream.write(b"done")
    >>> target.read_bytes()
    b'done'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["TEMP_PREFIX", "atomic_write"]

TEMP_PREFIX = ".tmp-"  # blob listings skip names that start with this


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_write(target: Path) -> Iterator[BinaryIO]:
    """Yield a stream whose content replaces ``target`` only if the block succeeds.

    The parent directory must exist. On an exception the temporary file is removed
    and ``target`` is left as it was. The new file gets the usual mode for the
    process's umask (``mkstemp`` alone would make it owner-only).

    Args:
        target: the file to create or replace.

    Yields:
        A binary stream to write the new content to.
    """
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, _FILE_MODE)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable; not possible (nor needed) on every platform."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
