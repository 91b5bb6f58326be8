"""What a docs block may ask for with ``<!-- docs-test: fixture=NAME -->``.

Each fixture is a function of the scratch folder (the working directory of the blocks) that
prepares something there before the block runs: a file the block reads, a server it
talks to (its address in an environment variable). Keep them few: a block that can make
its own data in a line or two should do so, so a reader can run it as written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

FIXTURES: dict[str, Callable[[Path], None]] = {}
