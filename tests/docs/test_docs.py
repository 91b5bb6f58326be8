"""Every code block of README.md and docs/*.md runs, and shows what it prints.

One test per block, named by the doc and the line of its opening fence
(``docs/registry.md:14``). The blocks of one file run once, in order, in one child
process (``_docs_driver``) in a fresh scratch folder with ``LOOPML_HOME`` there, like a
notebook: Python blocks share one namespace, shell blocks run in ``bash -euo pipefail``
with this venv's ``bin`` first on ``PATH``. The conventions are in docs/contributing.md.
"""

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

import _docs_blocks
import _docs_fixtures
import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FILE_TIMEOUT_S = 240

ALL_BLOCKS = [block for path in _docs_blocks.doc_files(ROOT)
              for block in _docs_blocks.extract(path, ROOT)]  # fmt: skip
RUNNABLE = [block for block in ALL_BLOCKS if block.runs]
_results: dict[str, list[dict[str, Any]]] = {}


def _env(home: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LOOPML_")}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(HERE), env.get("PYTHONPATH", "")] if p)
    env["LOOPML_HOME"] = str(home)
    env["MPLBACKEND"] = "Agg"
    env["COLUMNS"] = "120"  # the CLI's tables, as wide as the docs show them
    return env


def _run_doc(doc: str) -> list[dict[str, Any]]:
    """Run every runnable block of ``doc`` once; the driver's result per block."""
    if doc in _results:
        return _results[doc]
    blocks = [block for block in RUNNABLE if block.doc == doc]
    scratch = Path(tempfile.mkdtemp(prefix="loopml-docs-"))
    try:
        spec = [{**asdict(block), "id": block.id, "kind": block.kind, "fixtures": block.fixtures,
                 "path": str(ROOT / block.doc)} for block in blocks]  # fmt: skip
        (scratch / ".blocks.json").write_text(json.dumps(spec))
        work = scratch / "work"
        work.mkdir()
        try:
            proc = subprocess.run(
                [sys.executable, str(HERE / "_docs_driver.py"), str(scratch / ".blocks.json"),
                 str(scratch / ".results.json")],
                cwd=work, env=_env(work / ".loopml"), stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=FILE_TIMEOUT_S, check=False,
            )  # fmt: skip
            log = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as err:
            log = f"timed out after {FILE_TIMEOUT_S} s\n{err.stdout!r}\n{err.stderr!r}"
        results_file = scratch / ".results.json"
        results = json.loads(results_file.read_text()) if results_file.exists() else []
        if len(results) < len(blocks) and (not results or results[-1]["ok"]):
            # The driver died inside a block: blame that block, with what it printed.
            results.append({"ok": False, "error": f"the docs driver died:\n{log[-5000:]}"})
        _results[doc] = results
        return results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.timeout(FILE_TIMEOUT_S + 30)
@pytest.mark.parametrize("block", RUNNABLE, ids=[block.id for block in RUNNABLE])
def test_block_runs(block: _docs_blocks.Block) -> None:
    results = _run_doc(block.doc)
    index = [b.id for b in RUNNABLE if b.doc == block.doc].index(block.id)
    if index >= len(results):
        failed = next(i for i, result in enumerate(results) if not result["ok"])
        earlier = [b for b in RUNNABLE if b.doc == block.doc][failed]
        pytest.fail(f"not run: an earlier block of {block.doc} failed ({earlier.id})",
                    pytrace=False)  # fmt: skip
    result = results[index]
    print(f"{block.id}: {result.get('seconds', '?')} s")  # shown with -rA
    assert result["ok"], result["error"]


def test_every_fixture_named_exists() -> None:
    unknown = [f"{b.id}: {name}" for b in RUNNABLE for name in b.fixtures
               if name not in _docs_fixtures.FIXTURES]  # fmt: skip
    assert not unknown, f"unknown docs-test fixtures: {unknown}"


def test_every_code_block_is_tagged() -> None:
    """An untagged fence would silently escape the runner: say text, toml, … instead."""
    untagged = [block.id for block in ALL_BLOCKS if not block.language]
    assert not untagged, f"code blocks without a language (use ```text for plain text): {untagged}"
