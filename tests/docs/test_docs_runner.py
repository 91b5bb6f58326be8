"""The docs runner itself: a doc that drifts from its code must fail, never pass silently."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import _docs_blocks
import _docs_runner
import pytest
from _docs_driver import matches

FENCE = "`" * 3


def _run(tmp_path: Path, markdown: str) -> list[dict[str, Any]]:
    doc = tmp_path / "page.md"
    doc.write_text(textwrap.dedent(markdown).replace("~~~", FENCE))
    blocks = [block for block in _docs_blocks.extract(doc, tmp_path) if block.runs]
    return _docs_runner.run_blocks(blocks, tmp_path, timeout=60)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("[12]", "[12]"),
        ("{'trips_per_km': [3.43]}", "{'trips_per_km': [3.4285714285714284]}"),
        ("('finished', {'slope': 1.43...})", "('finished', {'slope': 1.4361130994989262})"),
        ("ModelVersion(...version=1...)", "ModelVersion(name='churn', version=1, status='x')"),
        ("a\n\n  b", "a   \n\n  b  \n   \n"),
    ],
)
def test_matches_what_the_doc_shows(expected: str, actual: str) -> None:
    assert matches(expected, actual)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("[12]", "[None]"),  # the online example of docs/features.md (issue 10, item 17)
        ("[12]", "[123]"),
        ("1", "1.0"),
        ("[3.43]", "[3.44]"),
        ("1.43...", "1.44"),
        ("'registered'", "'validated'"),
    ],
)
def test_refuses_what_the_doc_does_not_show(expected: str, actual: str) -> None:
    assert not matches(expected, actual)


def test_blocks_share_state_in_order_and_check_values(tmp_path: Path) -> None:
    results = _run(
        tmp_path,
        """
        ~~~python
        import os
        total = sum([1, 2])
        open("made.txt", "w").write(os.environ["LOOPML_HOME"])
        ~~~

        ~~~bash
        test -f made.txt && command -v loopml
        ~~~

        ~~~python
        total * 4  # -> 12
        ~~~
        """,
    )
    assert [r["ok"] for r in results] == [True, True, True], results


def test_a_wrong_value_fails_and_later_blocks_do_not_run(tmp_path: Path) -> None:
    results = _run(
        tmp_path,
        """
        ~~~python
        [None]
        # -> [12]
        ~~~

        ~~~python
        print("never")
        ~~~
        """,
    )
    assert len(results) == 1
    assert not results[0]["ok"]
    assert "the doc shows [12], the code gives [None]" in results[0]["error"]


def test_expect_fail_must_fail_as_said(tmp_path: Path) -> None:
    results = _run(
        tmp_path,
        """
        <!-- docs-test: expect-fail=KeyError -->
        ~~~python
        {}["missing"]
        ~~~

        <!-- docs-test: expect-fail=2 -->
        ~~~bash
        exit 2
        ~~~

        <!-- docs-test: expect-fail -->
        ~~~python
        ok = True
        ~~~
        """,
    )
    assert [r["ok"] for r in results] == [True, True, False], results
    assert "marked expect-fail, but it succeeded" in results[2]["error"]


def test_printed_output_is_compared(tmp_path: Path) -> None:
    results = _run(
        tmp_path,
        """
        ~~~bash
        echo "rows: 4000"
        ~~~

        <!-- docs-test: output -->
        ~~~text
        rows: 48210
        ~~~
        """,
    )
    assert not results[0]["ok"]
    assert "the output differs from the doc's" in results[0]["error"]


def test_a_file_block_is_saved_and_run_as_that_file(tmp_path: Path) -> None:
    results = _run(
        tmp_path,
        """
        <!-- docs-test: file=pkg/defs.py -->
        ~~~python
        import inspect

        def double(x):
            return 2 * x
        ~~~

        ~~~python
        inspect.getsourcefile(double).endswith("pkg/defs.py")  # -> True
        ~~~
        """,
    )
    assert [r["ok"] for r in results] == [True, True], results


@pytest.mark.parametrize(
    ("markdown", "message"),
    [
        ('<!-- docs-test: skip="" -->\n~~~bash\nmake test\n~~~\n', "needs a reason"),
        ("<!-- docs-test: expect-failure -->\n~~~bash\nfalse\n~~~\n", "unknown docs-test key"),
        ("<!-- docs-test: expect-fail -->\nsome prose\n~~~bash\nfalse\n~~~\n", "right before"),
    ],
)
def test_bad_directives_are_refused(tmp_path: Path, markdown: str, message: str) -> None:
    doc = tmp_path / "page.md"
    doc.write_text(markdown.replace("~~~", FENCE))
    with pytest.raises(_docs_blocks.DocsSyntaxError, match=message):
        _docs_blocks.extract(doc, tmp_path)
