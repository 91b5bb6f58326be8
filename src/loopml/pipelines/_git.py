"""The few ``git`` questions a git trigger asks, answered by the ``git`` command.

Example:
    >>> root = repository_root(Path("src/loopml"))  # doctest: +SKIP
    >>> object_ids(root, ["src/loopml/pipelines"])  # doctest: +SKIP
    {'src/loopml/pipelines': '4b825dc642cb6eb9a060e54bf8d69288fbee4904'}
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from loopml.errors import InvalidInputError

__all__ = [
    "current_branch",
    "head_commit",
    "object_id",
    "object_ids",
    "repository_root",
    "uncommitted",
]


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as err:
        raise InvalidInputError(
            "a git trigger needs the `git` command, which is not installed; install git "
            "or register the pipeline without on_git_change()"
        ) from err


def repository_root(path: Path) -> Path:
    """The top folder of the git working tree that holds ``path``."""
    folder = path if path.is_dir() else path.parent
    result = _git(folder, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise InvalidInputError(
            f"{path} is not in a git repository, so a git trigger cannot watch it; "
            "commit the pipeline's code to git (`git init && git add . && git commit`) "
            "or drop the git trigger",
            details={"path": str(path), "git": result.stderr.strip()},
        )
    return Path(result.stdout.strip()).resolve()


def head_commit(root: Path) -> str:
    """The commit ``HEAD`` points at."""
    result = _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    if result.returncode != 0:
        raise InvalidInputError(
            f"the git repository {root} has no commits yet; commit the pipeline's code first"
        )
    return result.stdout.strip()


def current_branch(root: Path) -> str | None:
    """The branch checked out, or ``None`` on a detached ``HEAD``."""
    result = _git(root, "symbolic-ref", "--short", "-q", "HEAD")
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def object_id(root: Path, path: str, ref: str = "HEAD") -> str | None:
    """The blob (file) or tree (folder) id of a root-relative ``path`` at ``ref``, if any."""
    result = _git(root, "rev-parse", "--verify", "-q", f"{ref}:{'' if path == '.' else path}")
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def object_ids(root: Path, paths: Sequence[str], ref: str = "HEAD") -> dict[str, str]:
    """:func:`object_id` of each path; an error names a path that is not committed."""
    ids: dict[str, str] = {}
    for path in paths:
        found = object_id(root, path, ref)
        if found is None:
            raise InvalidInputError(
                f"{path} is not committed at {ref} in {root}; `git add` and commit it, "
                "then register again (a git trigger compares committed versions)",
                details={"path": path, "ref": ref},
            )
        ids[path] = found
    return ids


def uncommitted(root: Path, paths: Sequence[str]) -> list[str]:
    """The paths under ``paths`` with changes not committed yet."""
    result = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *paths)
    return sorted(line[3:] for line in result.stdout.splitlines() if len(line) > 3)
