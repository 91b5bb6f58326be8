"""What every benchmark script shares: workers in fresh stores, alternation, results rows.

A comparison script (``bench/tracking.py``…) runs each workload for loopml and for its
anchor in separate worker processes, each on a fresh temporary store, alternating which
side goes first from one repetition to the next, and keeps the median. It reports
:class:`Row` objects; ``bench/run_all.py`` gathers them from every script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _worker import RESULT_MARK

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
LOOPML_PYTHON = Path(sys.executable)
WORKER_TIMEOUT_S = 900

# Same for both sides: no async logging, no telemetry, no git noise, nothing remote.
QUIET_ENV = {
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "GIT_PYTHON_REFRESH": "quiet",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
# Settings that would point a worker at some other store than its fresh directory.
_STRIP_PREFIXES = ("LOOPML_", "MLFLOW_TRACKING_", "MLFLOW_REGISTRY_", "MLFLOW_ARTIFACT_")


class WorkerError(RuntimeError):
    """A worker process failed; the message carries the end of its stderr."""


@dataclass
class Row:
    """One line of the results table.

    ``ratio`` is how many times better loopml does than the anchor on this line (above 1:
    loopml is faster or smaller); ``None`` when the two numbers are not like for like.
    ``passed`` is ``None`` when the line has no target.
    """

    workload: str
    loopml: str
    anchor: str
    ratio: float | None
    target: str
    passed: bool | None
    note: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIP_PREFIXES)}
    env.update(QUIET_ENV)
    return env


@contextmanager
def fresh_dir(label: str) -> Iterator[Path]:
    """A new empty directory, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"loopml-bench-{label}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_worker(
    python: Path, script: Path, workload: str, params: dict[str, Any], directory: Path
) -> dict[str, Any]:
    """Run ``script workload params directory`` with ``python``; return its JSON result."""
    command = [str(python), str(script), workload, json.dumps(params), str(directory)]
    try:
        done = subprocess.run(
            command,
            cwd=directory,
            env=worker_env(),
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise WorkerError(f"{script.name} {workload} timed out after {err.timeout:.0f} s") from err
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            if done.returncode == 0:
                result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
                return result
            break
    tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
    raise WorkerError(f"{script.name} {workload} exited {done.returncode}:\n{tail}")


def python_one_liner(python: Path, code: str) -> str:
    """Run ``python -c code`` in a fresh interpreter (in a fresh directory); return stdout."""
    with fresh_dir("oneliner") as directory:
        done = subprocess.run(
            [str(python), "-c", code],
            cwd=directory,
            env=worker_env(),
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
    if done.returncode != 0:
        raise WorkerError(f"{python} -c {code!r} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout.strip()


def alternate(
    reps: int,
    sides: dict[str, Callable[[], dict[str, Any]]],
    label: str,
) -> dict[str, list[dict[str, Any]]]:
    """Run every side ``reps`` times, rotating which goes first; results by side.

    A side that fails is not retried and stops being run; its list ends with
    ``{"error": message}``.
    """
    names = list(sides)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            if results[name] and "error" in results[name][-1]:
                continue
            start = time.perf_counter()
            try:
                result = sides[name]()
            except WorkerError as err:
                result = {"error": str(err)}
            results[name].append(result)
            took = time.perf_counter() - start
            say(f"  {label} rep {rep + 1}/{reps} {name}: {_brief(result)} ({took:.1f} s wall)")
    return results


def median_of(results: Sequence[dict[str, Any]], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in results)


def failure(results: Sequence[dict[str, Any]]) -> str | None:
    """The error of a side that crashed, if it did."""
    for result in results:
        if "error" in result:
            return str(result["error"])
    return None


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _brief(result: dict[str, Any]) -> str:
    if "error" in result:
        error = str(result["error"]).splitlines()[0]
        return error if error.startswith("not available") else "CRASHED: " + error
    shown = {k: v for k, v in result.items() if k not in ("timings",)}
    return ", ".join(f"{k}={_short(v)}" for k, v in shown.items())


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# -- formatting ------------------------------------------------------------------------


def rate(count: float, seconds: float, unit: str) -> str:
    return f"{count / seconds:,.0f} {unit}/s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:,.2f} s"


def count(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:,.1f}x" if ratio < 100 else f"{ratio:,.0f}x"


def verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "—"}[passed]


def table(rows: Sequence[Row], anchor: str, *, markdown: bool = False) -> str:
    """The results as a plain-text (or Markdown) table."""
    header = ["workload", "loopml", anchor, "ratio", "target", "pass/fail"]
    body = [
        [r.workload, r.loopml, r.anchor, ratio_text(r.ratio), r.target, verdict(r.passed)]
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(cell.ljust(w) for cell, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(out)


# -- the command line every comparison script shares -------------------------------------


def script_main(
    comparison: str,
    anchor: str,
    run: Callable[[bool], tuple[list[Row], dict[str, Any]]],
) -> None:
    """``python bench/<comparison>.py [--quick] [--json PATH]``: run, print, save."""
    parser = argparse.ArgumentParser(description=f"loopml vs {anchor}: {comparison}")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--json", type=Path, help="write the rows and versions here")
    args = parser.parse_args()
    start = time.perf_counter()
    rows, versions = run(args.quick)
    took = time.perf_counter() - start
    # Optional, for the docs page: how the comparison measures, and a table of its own.
    method, details = versions.pop("method", None), versions.pop("details", None)
    print(table(rows, anchor))
    for row in rows:
        if row.note:
            print(f"  * {row.workload}: {row.note}")
    if details:
        print(details)
    print(f"({comparison}: {took:.0f} s)")
    if args.json:
        payload = {
            "comparison": comparison,
            "anchor": anchor,
            "quick": args.quick,
            "seconds": took,
            "versions": versions,
            "rows": [row.to_json() for row in rows],
        }
        payload.update({k: v for k, v in (("method", method), ("details", details)) if v})
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
