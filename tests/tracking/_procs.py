"""Run a small loopml program in a fresh interpreter, with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def python(code: str, home: Path, **env: str) -> subprocess.Popen[bytes]:
    """Start ``code`` with ``LOOPML_HOME=home``; stdout and stderr are piped."""
    environ = {**os.environ, "LOOPML_HOME": str(home), **env}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def run_python(code: str, home: Path, timeout: float = 120, **env: str) -> tuple[int, str, str]:
    proc = python(code, home, **env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), err.decode()
