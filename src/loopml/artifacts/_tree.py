"""Walk a directory for ``put_tree``, refusing anything that is not a plain file or folder.

Everything is checked before anything is stored, so a refused tree leaves no blobs.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "sub").mkdir()
    >>> _ = (root / "sub" / "a.txt").write_text("a")
    >>> [name for name, _ in scan_tree(root)]
    ['sub/a.txt']
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from loopml.artifacts.paths import safe_artifact_path
from loopml.errors import InvalidInputError, NotFoundError, UnsafePathError

__all__ = ["check_regular_file", "lstat_existing", "scan_tree", "symlink_error"]


def scan_tree(directory: Path) -> list[tuple[str, Path]]:
    """Every regular file under ``directory`` as ``(artifact path, file)``, sorted by path.

    Raises:
        NotFoundError: ``directory`` does not exist.
        UnsafePathError: ``directory`` or anything inside it is a symbolic link, or a
            file name is not a safe artifact path (e.g. it contains a backslash).
        InvalidInputError: ``directory`` is not a directory, or holds a FIFO, socket
            or device.
    """
    info = lstat_existing(directory, "directory")
    if stat.S_ISLNK(info.st_mode):
        raise symlink_error(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise InvalidInputError(f"{directory} is not a directory; pass the folder to store")
    files: list[tuple[str, Path]] = []
    for folder, subfolders, names in os.walk(directory, onerror=_raise):
        for name in subfolders + names:
            path = Path(folder, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISDIR(mode):
                continue
            check_regular_file(path, mode)
            files.append((safe_artifact_path(path.relative_to(directory).as_posix()), path))
    return sorted(files)


def check_regular_file(path: Path, mode: int) -> None:
    """Refuse ``path`` (whose ``lstat`` mode is ``mode``) unless it is a regular file."""
    if stat.S_ISLNK(mode):
        raise symlink_error(path)
    if not stat.S_ISREG(mode):
        raise InvalidInputError(
            f"{path} is not a regular file (it is a directory, FIFO, socket or device); "
            "store regular files only",
            details={"path": str(path)},
        )


def symlink_error(path: Path) -> UnsafePathError:
    """The error for a symbolic link met where only real files and folders may be."""
    return UnsafePathError(
        f"{path} is a symbolic link; artifacts hold only regular files so that nothing can "
        "point outside them; replace the link with a copy of its target (e.g. `cp -L`)",
        details={"path": str(path)},
    )


def lstat_existing(path: Path, kind: str) -> os.stat_result:
    """``os.lstat(path)``, or ``NotFoundError`` naming ``path`` as a ``kind``."""
    try:
        return os.lstat(path)
    except FileNotFoundError as err:
        raise NotFoundError(kind, str(path)) from err


def _raise(error: OSError) -> None:
    raise error  # os.walk would otherwise skip unreadable folders without a word
