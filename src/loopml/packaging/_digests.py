"""Every file of a package folder with its SHA-256, and checking a folder against them.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("hi")
    >>> files = file_digests(root)
    >>> verify_files(root, files), files["a.txt"][1]
    ([], 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from loopml.artifacts import sha256_file
from loopml.errors import UnsafePathError

__all__ = ["file_digests", "verify_files"]


def file_digests(root: Path, *, skip: str | None = None) -> dict[str, tuple[str, int]]:
    """``{relative path: (sha256, size)}`` of every file under ``root`` but ``skip``.

    Raises:
        UnsafePathError: the folder holds a symbolic link (a package holds only files).
    """
    return {
        path: (sha256_file(root / path), (root / path).stat().st_size)
        for path in _files(root, skip)
    }


def verify_files(
    root: Path, expected: Mapping[str, tuple[str, int]], *, skip: str | None = None
) -> list[str]:
    """Every way the files under ``root`` differ from ``expected``: changed, missing, extra."""
    present = set(_files(root, skip))
    problems: list[str] = []
    for path, (digest, size) in sorted(expected.items()):
        if path not in present:
            problems.append(f"file {path} is missing")
            continue
        actual_size = (root / path).stat().st_size
        if actual_size != size:
            problems.append(
                f"file {path} changed after it was logged ({actual_size} bytes, not {size})"
            )
        elif (actual := sha256_file(root / path)) != digest:
            problems.append(
                f"file {path} changed after it was logged (sha256 {actual[:12]}… != {digest[:12]}…)"
            )
    problems += [
        f"file {path} is not part of the package" for path in sorted(present - set(expected))
    ]
    return problems


def _files(root: Path, skip: str | None) -> list[str]:
    found: list[str] = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise UnsafePathError(f"{path} is a symbolic link; a model package holds only files")
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            if relative != skip:
                found.append(relative)
    return found
