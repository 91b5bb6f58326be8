"""Exceptions that are not loopml's bugs, told apart from those that are.

The CLI reports any exception that is not a :class:`~loopml.errors.LoopmlError` as a bug,
except two kinds that are not: an error raised in the user's own code (shown at the
user's file and line, see :mod:`loopml._user_code`) and a full disk (shown with the
space left on the device).

Example:
    >>> import errno
    >>> err = OSError(errno.ENOSPC, "No space left on device")
    >>> blame(err, [Path("/")]).code
    'disk_full'
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from loopml._user_code import user_code_error
from loopml.errors import DiskFullError, LoopmlError

__all__ = ["blame"]


def blame(err: BaseException, store_paths: Sequence[Path]) -> LoopmlError | None:
    """The error to report instead of "a bug in loopml", or None if it is one.

    Args:
        err: what a command raised.
        store_paths: where the command writes (the store's folders): the device of
            the fullest one is reported when ``err`` does not name a file.
    """
    for cause in _chain(err):
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return _disk_full(cause, store_paths)
    return user_code_error(err)


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _disk_full(err: OSError, store_paths: Sequence[Path]) -> DiskFullError:
    named = [Path(os.fsdecode(f)) for f in (err.filename, err.filename2) if f is not None]
    mounts = {_mount(path) for path in (named or store_paths)}
    free = {mount: shutil.disk_usage(mount).free for mount in mounts if mount.exists()}
    if not free:
        return DiskFullError("disk full: no space left on the device; free some space")
    mount = min(free, key=lambda m: free[m])  # the fullest device is the likely culprit
    disk = DiskFullError(
        f"disk full: {free[mount]} bytes free on {mount}; free some space there (or point "
        "--home/--artifacts elsewhere) and run the command again"
    )
    disk.details.update({"mount": str(mount), "free_bytes": free[mount]})
    return disk


def _mount(path: Path) -> Path:
    """The mount point that holds ``path`` (or would, for a path not made yet)."""
    current = path.expanduser().absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current
