"""What a docs block may ask for with ``<!-- docs-test: fixture=NAME -->``.

Each fixture is a function of the scratch folder (the working directory of the blocks) that
prepares something there before the block runs: a file the block reads, a server it
talks to (its address in an environment variable). Keep them few: a block that can make
its own data in a line or two should do so, so a reader can run it as written.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

FIXTURES: dict[str, Callable[[Path], None]] = {}


def git_repo(workdir: Path) -> None:
    """The working directory as a git repository with everything in it committed."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "docs", "GIT_AUTHOR_EMAIL": "docs@example.com",
           "GIT_COMMITTER_NAME": "docs", "GIT_COMMITTER_EMAIL": "docs@example.com"}  # fmt: skip
    (workdir / ".gitignore").write_text(".loopml/\n__pycache__/\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "docs example"]):
        subprocess.run(["git", *argv], cwd=workdir, env=env, check=True, capture_output=True)


FIXTURES["git-repo"] = git_repo
