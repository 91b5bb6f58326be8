"""Rebuild what a version was made with: its commit checked out, a clean virtualenv.

The commit is checked out with ``git worktree add --detach`` into a temporary folder, so
the re-run records the very commit (and a clean tree) in its own environment, and the
user's working tree is not touched; the worktree is removed afterwards
(``git worktree remove``), or kept with ``keep``.

The virtualenv (``python -m venv``, the running interpreter) gets the package's pinned
requirements and loopml itself, from the source tree of the running loopml when it runs
from one (``pip install <tree>``: the code that recorded the run reads it back), else
``loopml==<version>`` from the package index. The original run's recorded package
versions are given to pip as constraints, so loopml's own dependencies (pandas, numpy,
…) come back at the versions the run had. pip reaches nothing but the package index.

Example:
    >>> checkout = check_out(Path("/repo"), "4b825dc6…", Path("/tmp/x/src"))  # doctest: +SKIP
    >>> python = build_virtualenv(Path("/tmp/x/venv"), ["numpy==2.4.6"], {}, say)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from loopml.errors import InvalidInputError, LoopmlError, NotFoundError

__all__ = [
    "LOOPML_PACKAGE",
    "build_virtualenv",
    "check_out",
    "clean_environment",
    "loopml_requirement",
    "remove_checkout",
]

Say = Callable[[str], None]
LOOPML_PACKAGE = Path(__file__).resolve().parent.parent  # the running loopml's package folder
_TAIL = 2_000


def check_out(repository: Path, commit: str, target: Path) -> Path:
    """Check ``commit`` of ``repository`` out into ``target`` (a detached worktree).

    Raises:
        NotFoundError: the repository folder is gone, is no git repository, or does not
            hold the commit.
    """
    if not repository.is_dir():
        raise NotFoundError(
            "git repository",
            str(repository),
            hint="the run recorded this repository, which is no longer there; clone it "
            "back to that path (or run from a clone of it) and reproduce again",
        )
    found = _git(repository, "cat-file", "-e", f"{commit}^{{commit}}")
    if found.returncode != 0:
        raise NotFoundError(
            "commit",
            commit,
            hint=f"the repository {repository} does not hold it (rebased, or not fetched); "
            "`git fetch` the branch that has it, then reproduce again",
        )
    done = _git(repository, "worktree", "add", "--detach", "--quiet", str(target), commit)
    if done.returncode != 0:
        raise LoopmlError(
            f"git could not check out {commit} of {repository} into {target}: "
            f"{done.stderr.strip()[-_TAIL:]}"
        )
    return target


def remove_checkout(repository: Path, target: Path) -> None:
    """Remove the worktree ``check_out`` made (and git's record of it)."""
    _git(repository, "worktree", "remove", "--force", str(target))
    _git(repository, "worktree", "prune")


def loopml_requirement(folder: Path) -> str:
    """What pip installs loopml from: a copy of the running loopml's source tree, else
    ``loopml==<version>`` from the index.

    pip builds a source tree in place (``build/``, ``*.egg-info``), so it builds a copy of
    the files the build reads, made in ``folder``, never the user's tree itself.
    """
    tree = LOOPML_PACKAGE.parent.parent
    if not (tree / "pyproject.toml").is_file() or LOOPML_PACKAGE.parent.name != "src":
        return f"loopml=={importlib.metadata.version('loopml')}"
    copy = folder / "loopml-source"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(LOOPML_PACKAGE, copy / "src" / "loopml", ignore=skip)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (tree / name).is_file():
            shutil.copy2(tree / name, copy / name)
    return str(copy)


def build_virtualenv(
    folder: Path,
    requirements: Sequence[str],
    constraints: Mapping[str, str],
    say: Say,
) -> Path:
    """A fresh virtualenv in ``folder`` with ``requirements`` and loopml; its Python.

    Args:
        folder: where the virtualenv goes (must not exist).
        requirements: the package's pinned requirement lines.
        constraints: distribution name -> version the original run had.
        say: progress messages.

    Raises:
        LoopmlError: ``venv`` or ``pip`` failed (with the end of pip's output).
    """
    say(f"creating a virtualenv in {folder}")
    _run([sys.executable, "-m", "venv", str(folder)], "python -m venv")
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    lines = [line for line in requirements if line.strip() and not line.lstrip().startswith("#")]
    lines = [line for line in lines if _name(line) != "loopml"]
    pinned = {_name(line) for line in lines}
    constraint_file = folder / "loopml-constraints.txt"
    constraint_file.write_text(
        "".join(
            f"{name}=={version}\n"
            for name, version in sorted(constraints.items())
            if name not in pinned and name != "loopml" and _plain(version)
        )
    )
    source = loopml_requirement(folder.parent)
    say(f"pip install {len(lines)} pinned requirement(s) and loopml from {source}")
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(constraint_file), *lines, source],
        "pip install",
    )  # fmt: skip
    return python


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what would point a child at another Python."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, **(extra or {})}


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(
        argv, env=clean_environment(), stdin=subprocess.DEVNULL, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-_TAIL:]
        raise LoopmlError(
            f"{what} failed (exit {done.returncode}) building the reproduction's "
            f"virtualenv; its output ends:\n{tail}\nfix the requirement it names, or "
            "reproduce with --reuse-env to run in the current environment"
        )


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
        )  # fmt: skip
    except FileNotFoundError as err:
        raise InvalidInputError(
            "reproducing a version checks its commit out with the `git` command, which "
            "is not installed; install git"
        ) from err


def _name(line: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else line.strip()


def _plain(version: str) -> bool:
    # A local build (``1.2+cpu``) or a development version is not on the package index.
    return re.fullmatch(r"[0-9][0-9A-Za-z.!]*", version) is not None
