"""Run a docs file's blocks in a child process (``_docs_driver``) in a fresh scratch folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from _docs_blocks import Block

HERE = Path(__file__).resolve().parent


def _env(home: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LOOPML_")}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(HERE), env.get("PYTHONPATH", "")] if p)
    env["LOOPML_HOME"] = str(home)
    env["MPLBACKEND"] = "Agg"
    env["COLUMNS"] = "120"  # the CLI's tables, as wide as the docs show them
    return env


def run_blocks(blocks: list[Block], root: Path, timeout: float) -> list[dict[str, Any]]:
    """Run ``blocks`` (of one file, relative to ``root``) in order; a result per block run.

    Each result is ``{"ok", "error", "stdout", "seconds"}``; after a failing block the rest
    are not run (fewer results than blocks).
    """
    scratch = Path(tempfile.mkdtemp(prefix="loopml-docs-"))
    try:
        spec = [{**asdict(block), "id": block.id, "kind": block.kind, "fixtures": block.fixtures,
                 "path": str(root / block.doc)} for block in blocks]  # fmt: skip
        (scratch / ".blocks.json").write_text(json.dumps(spec))
        work = scratch / "work"
        work.mkdir()
        try:
            proc = subprocess.run(
                [sys.executable, str(HERE / "_docs_driver.py"), str(scratch / ".blocks.json"),
                 str(scratch / ".results.json")],
                cwd=work, env=_env(work / ".loopml"), stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=timeout, check=False,
            )  # fmt: skip
            log = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as err:
            log = f"timed out after {timeout} s\n{err.stdout!r}\n{err.stderr!r}"
        results_file = scratch / ".results.json"
        results = json.loads(results_file.read_text()) if results_file.exists() else []
        if len(results) < len(blocks) and (not results or results[-1]["ok"]):
            # The driver died inside a block: blame that block, with what it printed.
            results.append({"ok": False, "error": f"the docs driver died:\n{log[-5000:]}"})
        return results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
