"""Run every benchmark, print one table, save the results and the docs page.

    .venv/bin/python bench/run_all.py [--quick]        (what `make bench` runs)

Each comparison script in ``bench/`` (every ``*.py`` here not starting with ``_``, except
this one) runs in its own process and hands back its rows as JSON. The full run writes
``bench/results/latest.json`` and rewrites ``docs/benchmarks.md``; ``--quick`` (small
sizes, targets not judged) writes ``bench/results/quick.json`` only.

Exits non-zero only when something crashed (a script, or a side of a workload); a
missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import BENCH_DIR, REPO, Row, say, table

RESULTS = BENCH_DIR / "results"
DOCS_PAGE = REPO / "docs" / "benchmarks.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, targets not judged")
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    machine = machine_info()
    source_before = source_digest()
    clock = time.perf_counter()
    comparisons, crashed = [], []
    for script in scripts():
        say(f"== {script.name}")
        payload = run_script(script, args.quick)
        if payload is None:
            crashed.append(script.name)
            continue
        comparisons.append(payload)
        crashed += [f"{script.name}: {r['workload']}" for r in payload["rows"] if _crashed(r)]
    seconds = time.perf_counter() - clock
    machine["load_average_after"] = _load_average()
    source_changed = source_digest() != source_before

    for payload in comparisons:
        rows = [Row(**row) for row in payload["rows"]]
        print(f"\n{payload['comparison']}: loopml vs {payload['anchor']}")
        print(table(rows, payload["anchor"]))
        if payload.get("details"):
            print(payload["details"])
    print("\nratio: how many times better loopml does (above 1: faster or smaller)")
    missed = [
        f"{p['comparison']}: {row['workload']}"
        for p in comparisons
        for row in p["rows"]
        if row["passed"] is False
    ]
    for line in missed:
        print(f"MISSED TARGET  {line}")
    for line in crashed:
        print(f"CRASHED        {line}")
    if source_changed:
        print("WARNING        src/loopml changed while the benchmarks ran; run them again")
    print(f"whole run: {seconds / 60:.1f} min")

    report = {
        "date": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(seconds, 1),
        "command": "make bench",
        "machine": machine,
        "git": git_state(),
        "loopml_source": {"sha256": source_before, "changed_during_run": source_changed},
        "comparisons": comparisons,
        "missed_targets": missed,
        "crashed": crashed,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("quick.json" if args.quick else "latest.json")
    _write_atomic(out, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    say(f"wrote {out.relative_to(REPO)}")
    if not args.quick:
        _write_atomic(DOCS_PAGE, docs_page(report))
        say(f"wrote {DOCS_PAGE.relative_to(REPO)}")
    return 1 if crashed else 0


def scripts() -> list[Path]:
    here = Path(__file__).resolve()
    return sorted(p for p in BENCH_DIR.glob("*.py") if not p.name.startswith("_") and p != here)


def run_script(script: Path, quick: bool) -> dict[str, Any] | None:
    """Run one comparison script; its JSON payload, or ``None`` if it crashed."""
    with tempfile.TemporaryDirectory(prefix="loopml-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        command = [sys.executable, str(script), "--json", str(out)]
        # Progress goes to stderr as it happens; the script's own table (stdout) is
        # printed again below with the others, so it is shown only when the script crashed.
        done = subprocess.run(
            [*command, *(["--quick"] if quick else [])],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            say(done.stdout)
            say(f"{script.name} crashed (exit {done.returncode})")
            return None
        payload: dict[str, Any] = json.loads(out.read_text())
    return payload


def _crashed(row: dict[str, Any]) -> bool:
    return "crashed" in (row["loopml"], row["anchor"])


# -- facts about the run ---------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": _load_average(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def source_digest() -> str:
    """SHA-256 over loopml's source files, to tell whether they changed during the run."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "src" / "loopml").rglob("*.py")):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


# -- the docs page ---------------------------------------------------------------------

INTRO = """\
# Benchmarks

loopml is measured against the tool it replaces, on the same machine, in the same run:
every workload runs for loopml and for the anchor (named in each section's title) in
separate worker processes, alternating, with the side that goes first rotating from one
repetition to the next. Each repetition starts from a fresh temporary store (loopml:
`Settings.load(home=tmp)` on SQLite; MLflow: `sqlite:///…/mlflow.db` with a file artifact
root; DVC: a fresh `git init` + `dvc init` repository; Feast: a fresh feature repository
with a file registry and a SQLite online store), and each line reports the median
repetition. Only the workload is timed: starting the interpreter, creating the store and
populating what a search reads are not. Where MLflow is far slower, it runs the workload
at a smaller size and the line compares per-second rates. MLflow runs with
`MLFLOW_ENABLE_ASYNC_LOGGING=false`, telemetry off, and in the tracking benchmarks both
sides run as scripts outside any git repository. Model serving is measured differently:
each side is a server started afresh under the same load generator (see its section).

*ratio* is how many times better loopml does than the anchor on that line (above 1: loopml
is faster or smaller); *target* is loopml's own goal, judged on loopml's number alone.
"""


def docs_page(report: dict[str, Any]) -> str:
    parts = [INTRO]
    machine = report["machine"]
    for payload in report["comparisons"]:
        rows = [Row(**row) for row in payload["rows"]]
        versions = payload.get("versions", {})
        parts.append(f"## {payload['comparison'].capitalize()}: loopml vs {payload['anchor']}\n")
        if payload.get("method"):
            parts.append(payload["method"] + "\n")
        parts.append(table(rows, payload["anchor"], markdown=True) + "\n")
        notes = [f"- **{row.workload}**: {row.note}" for row in rows if row.note]
        if notes:
            parts.append("\n".join(notes) + "\n")
        if payload.get("details"):
            parts.append(payload["details"] + "\n")
        if versions:
            parts.append(f"Versions: {_versions_line(versions)}.\n")
    missed = report["missed_targets"] + [f"{c} (crashed)" for c in report["crashed"]]
    if missed:
        parts.append("## Missed targets\n")
        parts.append("\n".join(f"- {line}" for line in missed) + "\n")
    parts.append(
        "## This run\n\n"
        f"- Date: {report['date']} (UTC); whole run {report['seconds'] / 60:.1f} min\n"
        f"- Machine: {machine['processor']}, {machine['logical_cpus']} logical CPUs"
        f"{_memory(machine)}, {machine['platform']}\n"
        f"- Load average (1, 5, 15 min) before / after: {machine['load_average_before']} / "
        f"{machine['load_average_after']}\n"
        f"- Commit: {report['git']['commit'][:12]}"
        f"{' (with uncommitted changes)' if report['git']['dirty'] else ''}; loopml source "
        f"SHA-256 {report['loopml_source']['sha256'][:12]}"
        f"{' (CHANGED during the run)' if report['loopml_source']['changed_during_run'] else ''}"
        "\n"
        "- Raw numbers (every repetition): `bench/results/latest.json`\n"
    )
    parts.append(
        "## Reproduce\n\n"
        '<!-- docs-test: skip="runs every benchmark (40 minutes)" -->\n'
        "```bash\nmake bench\n```\n\n"
        "It installs the anchors first, each into its own virtualenv (`bench/.venv-mlflow`, "
        "`bench/.venv-dvc`, `bench/.venv-bentoml`, …, and the load generator wrk: "
        "`make bench-setup`, i.e. `bash bench/setup.sh`), then runs "
        "`.venv/bin/python bench/run_all.py`, which prints the table, writes "
        "`bench/results/latest.json` and rewrites this page. "
        "`.venv/bin/python bench/run_all.py --quick` is a small smoke run that judges no "
        "target and leaves this page alone.\n"
    )
    return "\n".join(parts)


def _versions_line(versions: dict[str, Any]) -> str:
    if "summary" in versions:  # a comparison that words its own versions line
        return str(versions["summary"])
    loopml_env, mlflow_env = versions.get("loopml_env", {}), versions.get("mlflow_env", {})
    return (
        f"loopml {versions.get('loopml')} (SQLAlchemy {loopml_env.get('sqlalchemy')}, "
        f"SQLite {loopml_env.get('sqlite')}, Python {loopml_env.get('python')}); "
        f"MLflow {versions.get('mlflow')} (SQLAlchemy {mlflow_env.get('sqlalchemy')}, "
        f"SQLite {mlflow_env.get('sqlite')}, Python {mlflow_env.get('python')})"
    )


def _memory(machine: dict[str, Any]) -> str:
    return f", {machine['memory_gb']} GB RAM" if "memory_gb" in machine else ""


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
