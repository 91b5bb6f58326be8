"""What a run ran in: git commit and uncommitted diff, Python, packages, host, command.

The process-wide part (Python, platform, packages, git state) is captured once per
process and stored once per distinct content (by digest), so creating a run stays
cheap. The per-run part (command line, working directory, pid) goes into the run's
tags under ``loopml.``.

Example:
    >>> env = capture_environment()  # doctest: +SKIP
    >>> env.body["python"]["version"]  # doctest: +SKIP
    '3.11.7'
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Environment", "capture_environment", "run_tags"]

MAX_DIFF_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class Environment:
    """The process's environment and the SHA-256 of its canonical JSON."""

    digest: str
    body: dict[str, Any]


@functools.cache
def capture_environment() -> Environment:
    """This process's environment (cached: computed once per process)."""
    body: dict[str, Any] = {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
        },
        "packages": _packages(),
        "git": _git_state(Path.cwd()),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return Environment(hashlib.sha256(text.encode()).hexdigest(), body)


def run_tags() -> dict[str, str]:
    """Per-run facts recorded as ``loopml.*`` tags."""
    env = capture_environment().body
    tags = {
        "loopml.source.command": shlex.join(sys.argv) if sys.argv else sys.executable,
        "loopml.source.cwd": os.getcwd(),
        "loopml.host": socket.gethostname(),
        "loopml.pid": str(os.getpid()),
        "loopml.python": env["python"]["version"],
    }
    git = env.get("git") or {}
    if git.get("commit"):
        tags["loopml.git.commit"] = git["commit"]
        tags["loopml.git.dirty"] = "true" if git.get("dirty") else "false"
    return tags


def _packages() -> dict[str, str]:
    """Installed distributions and versions, by normalized name (first on sys.path wins).

    Read from the ``name-version.dist-info`` folder names: parsing every package's
    METADATA (``importlib.metadata``) costs ~100 ms, this ~1 ms. Other layouts (eggs)
    fall back to the metadata.
    """
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info"):
                name, sep, version = folder[: -len(".dist-info")].partition("-")
                if sep:
                    found.setdefault(_normalize(name), version)
            elif folder.endswith(".egg-info"):
                try:
                    dist = metadata.Distribution.at(Path(entry or ".") / folder)
                    if dist.name:
                        found.setdefault(_normalize(dist.name), dist.version)
                except Exception:  # a broken egg-info is not worth failing a run for
                    continue
    return dict(sorted(found.items()))


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


def _git_state(cwd: Path) -> dict[str, Any] | None:
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return None
    diff = _git(cwd, "diff", "HEAD") or ""
    untracked = (_git(cwd, "ls-files", "--others", "--exclude-standard") or "").split()
    truncated = len(diff.encode()) > MAX_DIFF_BYTES
    return {
        "commit": commit.strip(),
        "branch": (_git(cwd, "rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None,
        "root": (_git(cwd, "rev-parse", "--show-toplevel") or "").strip() or None,
        "dirty": bool(diff or untracked),
        "diff": diff.encode()[:MAX_DIFF_BYTES].decode("utf-8", "ignore"),
        "diff_truncated": truncated,
        "untracked": untracked[:1000],
    }
