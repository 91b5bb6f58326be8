"""Every code block of README.md and docs/*.md runs, and shows what it prints.

One test per block, named by the doc and the line of its opening fence
(``docs/registry.md:14``). The blocks of one file run once, in order, in one child
process (``_docs_driver``) in a fresh scratch folder with ``LOOPML_HOME`` there, like a
notebook: Python blocks share one namespace, shell blocks run in ``bash -euo pipefail``
with this venv's ``bin`` first on ``PATH``. The conventions are in docs/contributing.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _docs_blocks
import _docs_fixtures
import _docs_runner
import pytest

ROOT = Path(__file__).resolve().parents[2]
FILE_TIMEOUT_S = 240

ALL_BLOCKS = [block for path in _docs_blocks.doc_files(ROOT)
              for block in _docs_blocks.extract(path, ROOT)]  # fmt: skip
RUNNABLE = [block for block in ALL_BLOCKS if block.runs]
_results: dict[str, list[dict[str, Any]]] = {}


def _run_doc(doc: str) -> list[dict[str, Any]]:
    """Run every runnable block of ``doc`` once; the driver's result per block."""
    if doc not in _results:
        blocks = [block for block in RUNNABLE if block.doc == doc]
        _results[doc] = _docs_runner.run_blocks(blocks, ROOT, FILE_TIMEOUT_S)
    return _results[doc]


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
