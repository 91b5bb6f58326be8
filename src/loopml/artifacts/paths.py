"""Logical artifact paths: the ``model/weights.bin`` part of ``runs:/<id>/model/weights.bin``.

An artifact path names a file inside an artifact tree on every platform and in every
backend, so it is always relative, ``/``-separated and free of anything a file system
or an object store could read as "go somewhere else". :func:`local_target` is the one
check every download uses to turn such a path into a place inside a local folder.

Example:
    >>> safe_artifact_path("./model/weights.bin")
    'model/weights.bin'
    >>> join_artifact_path("model", "data/", "x.parquet")
    'model/data/x.parquet'
"""

from __future__ import annotations

import re
from pathlib import Path

from loopml.errors import UnsafePathError

__all__ = ["join_artifact_path", "local_target", "safe_artifact_path"]

_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_artifact_path(path: str) -> str:
    """Normalise a logical artifact path, or refuse it if it is unsafe.

    Normalising drops ``.`` components (so a leading ``./``) and one trailing ``/``.
    The empty string, ``.`` and ``./`` all mean the root and give ``""``. The result
    is a fixed point: ``safe_artifact_path(safe_artifact_path(p)) == safe_artifact_path(p)``.

    Args:
        path: a relative, ``/``-separated path such as ``"model/weights.bin"``.

    Returns:
        The normalised path, with no leading ``./`` and no trailing ``/``.

    Raises:
        UnsafePathError: the path is absolute, has a ``..`` or an empty component,
            contains a backslash, a drive letter, NUL or another control character.

    Example:
        >>> safe_artifact_path("plots/./roc.png/")
        'plots/roc.png'
        >>> safe_artifact_path("../secrets")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        loopml.errors.UnsafePathError: ...
    """
    _refuse_bad_characters(path)
    if path.startswith("/"):
        raise _unsafe(path, "is absolute", "give a path relative to the artifact root")
    if path == "":
        return ""
    parts = path.split("/")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing slash is harmless: "plots/" means "plots"
    kept: list[str] = []
    for part in parts:
        if part == "..":
            raise _unsafe(path, "has a '..' component", "name the file from the root down")
        if part == "":
            raise _unsafe(path, "has an empty component ('//')", "remove the doubled '/'")
        if _DRIVE.match(part):
            raise _unsafe(path, "has a drive letter", "give a path relative to the root")
        if part != ".":
            kept.append(part)
    return "/".join(kept)


def join_artifact_path(*parts: str) -> str:
    """Join artifact path pieces with ``/``, checking each one.

    Empty pieces (the root) are skipped, so ``join_artifact_path("", "a")`` is ``"a"``.

    Args:
        *parts: pieces that are each a safe artifact path themselves.

    Returns:
        The normalised joined path.

    Raises:
        UnsafePathError: a piece is unsafe (see :func:`safe_artifact_path`).

    Example:
        >>> join_artifact_path("runs", "./model", "weights.bin")
        'runs/model/weights.bin'
    """
    return "/".join(filter(None, (safe_artifact_path(part) for part in parts)))


def local_target(root: Path, artifact_path: str) -> Path:
    """Where the file ``artifact_path`` goes inside the local folder ``root``, or refuse it.

    Every download (run artifacts, dataset files, model packages) writes through this
    check, so neither a stored path (``../x``, absolute, with a drive letter) nor a
    symbolic link planted inside ``root`` can make it write anywhere else. ``root``
    itself may be a link: the caller chose it.

    Args:
        root: the folder the files go into.
        artifact_path: a stored path relative to ``root`` (see :func:`safe_artifact_path`).

    Raises:
        UnsafePathError: the path is unsafe or empty, or a folder or file on its way
            inside ``root`` is a symbolic link; the message names it.

    Example:
        >>> local_target(Path("/tmp/out"), "model/./weights.bin")
        PosixPath('/tmp/out/model/weights.bin')
    """
    relative = safe_artifact_path(artifact_path)
    if not relative:
        raise UnsafePathError(
            "a stored file has an empty path; every file must name a place inside its folder",
            details={"path": artifact_path},
        )
    current = root
    for part in relative.split("/"):
        current = current / part
        if current.is_symlink():
            raise UnsafePathError(
                f"{current} is a symbolic link inside {root}; writing through it could land "
                f"outside {root}: remove the link, or download into another folder",
                details={"path": str(current), "root": str(root)},
            )
    return current


def _refuse_bad_characters(path: str) -> None:
    if "\\" in path:
        raise _unsafe(path, "contains a backslash", "use '/' to separate components")
    for char in path:
        if char == "\x00":
            raise _unsafe(path, "contains a NUL character", "remove it")
        if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0:
            raise _unsafe(path, f"contains the control character {char!r}", "remove or replace it")


def _unsafe(path: str, problem: str, fix: str) -> UnsafePathError:
    return UnsafePathError(
        f"artifact path {path!r} {problem}; {fix}",
        details={"path": path, "problem": problem},
    )
