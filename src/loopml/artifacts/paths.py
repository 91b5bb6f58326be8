"""Logical artifact paths: the ``model/weights.bin`` part of ``runs:/<id>/model/weights.bin``.

An artifact path names a file inside an artifact tree on every platform and in every
backend, so it is always relative, ``/``-separated and free of anything a file system
or an object store could read as "go somewhere else".

Example:
    >>> safe_artifact_path("./model/weights.bin")
    'model/weights.bin'
    >>> join_artifact_path("model", "data/", "x.parquet")
    'model/data/x.parquet'
"""

from __future__ import annotations

import re

from loopml.errors import UnsafePathError

__all__ = ["join_artifact_path", "safe_artifact_path"]

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
