"""The infra check: does the package load and predict in a fresh Python process?

A model that scores well in the notebook that trained it can still fail where it is
served: its class lives in a module only that notebook could import, a pinned library is
missing, a file was left out. The check starts a new, isolated interpreter
(``sys.executable -I``: no current directory or ``PYTHONPATH`` on ``sys.path``), checks
that the pinned requirements are installed, loads the package folder and predicts its
input example, all under a timeout. On failure the result says which step failed and
quotes the last line of the child's stderr. A child that exits 0 without printing its
result as its last line (the package's code ended the process, or printed after the
result) fails too, quoting the end of what it printed.

Example:
    >>> result = check_package(".loopml/cache/models/churn-3")  # doctest: +SKIP
    >>> result.ok  # doctest: +SKIP
    False
    >>> result.reason  # doctest: +SKIP
    "the package did not load in a fresh Python process: ModuleNotFoundError: No module \
named 'features'"
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopml.evaluation._infra_child import EXIT_CODES
from loopml.evaluation.models import InfraResult

__all__ = ["DEFAULT_TIMEOUT_S", "check_package"]

DEFAULT_TIMEOUT_S = 120.0
_CHILD = "loopml.evaluation._infra_child"
_FAILED = {
    "requirements": "the package's pinned requirements are not installed",
    "load": "the package did not load in a fresh Python process",
    "predict": "the package loaded in a fresh Python process but could not predict its "
    "input example",
}


def check_package(
    folder: str | Path,
    *,
    trusted: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT_S,
    python: str | None = None,
) -> InfraResult:
    """Load the package in ``folder`` in a fresh interpreter and predict its input example.

    Args:
        folder: a package folder (``model.json`` and its files).
        trusted: types to trust when loading (as for :func:`loopml.load_model`).
        timeout: seconds before the child is killed and the check fails.
        python: the interpreter to run (``sys.executable`` by default).

    Returns:
        The outcome; never raises for a broken package (that is what it reports).

    Example:
        >>> check_package("model_folder", timeout=30).ok  # doctest: +SKIP
        True
    """
    argv = [python or sys.executable, "-I", "-m", _CHILD, str(Path(folder).absolute())]
    argv.append(json.dumps(list(trusted)))
    start = time.perf_counter()
    # A scratch working directory: nothing next to the caller can leak into the child.
    with tempfile.TemporaryDirectory(prefix="loopml-infra-") as scratch:
        try:
            done = subprocess.run(
                argv,
                cwd=scratch,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            seconds = time.perf_counter() - start
            return InfraResult(
                ok=False,
                reason=(
                    f"the package did not load and predict within {timeout:g} s in a fresh "
                    "Python process (killed); raise the timeout if it is just slow to load"
                ),
                seconds=seconds,
            )
    return _outcome(done, time.perf_counter() - start)


def _outcome(done: subprocess.CompletedProcess[str], seconds: float) -> InfraResult:
    if done.returncode != 0:
        phase = EXIT_CODES.get(done.returncode, "")
        what = _FAILED.get(phase, "the fresh Python process failed")
        last = _last_line(done.stderr) or f"exit code {done.returncode}, nothing on stderr"
        return InfraResult(ok=False, reason=f"{what}: {last}", seconds=seconds)
    report = _report(done.stdout)
    if report is None:
        # Exit code 0 without the result as the last line: something in the package ended
        # the process early (sys.exit in its code) or printed after the result.
        printed = _quote(done.stdout) or _quote(done.stderr) or "nothing"
        return InfraResult(
            ok=False,
            reason=(
                "the fresh Python process exited with code 0 but did not report a result "
                f"(its last line must be the check's JSON); it printed: {printed}"
            ),
            seconds=seconds,
        )
    rows = report.get("rows")
    notes = tuple(str(note) for note in report.get("notes", ()))
    if rows is None:
        reason = (
            f"loaded in a fresh Python process in {seconds:.1f} s "
            "(the package has no input example to predict)"
        )
    else:
        reason = (
            f"loaded and predicted its input example ({rows} row(s)) in a fresh Python "
            f"process in {seconds:.1f} s"
        )
    return InfraResult(ok=True, reason=reason, seconds=seconds, notes=notes)


_QUOTE_CHARS = 300


def _report(stdout: str) -> dict[str, Any] | None:
    """The child's result line ({"rows": …, "notes": […]}), or None if it is not last."""
    try:
        report = json.loads(_last_line(stdout))
    except ValueError:
        return None
    if not isinstance(report, dict) or set(report) != {"rows", "notes"}:
        return None
    rows, notes = report["rows"], report["notes"]
    if not (rows is None or isinstance(rows, int)) or not isinstance(notes, list):
        return None
    return report


def _quote(text: str) -> str:
    """The end of what the child printed, quoted, at most ``_QUOTE_CHARS`` characters."""
    text = text.strip()
    if len(text) > _QUOTE_CHARS:
        text = "…" + text[-_QUOTE_CHARS:]
    return repr(text) if text else ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
