"""Pipelines: loopml against ZenML and Kedro on the same pipelines, in one run.

    .venv/bin/python bench/pipelines.py [--quick] [--json PATH]

Every side runs the same pipeline of no-op steps (a source, then diamonds, then a chain;
see ``_loopml_pipelines_worker.py``) in worker processes, each on a fresh temporary store:
loopml in this interpreter (``Settings.load(home=tmp)``, local executor, tracking, cache and
lineage on: the defaults), ZenML in ``bench/.venv-zenml`` (``zenml init`` and its global
config in the temporary directory: the default stack, i.e. local orchestrator, local SQLite
store and artifact store, caching on), Kedro in ``bench/.venv-kedro`` (a bare
``SequentialRunner`` over ``MemoryDataset`` s: no tracking, no cache). A bare
``concurrent.futures`` process pool gives the floor of handing a task to another process.
The sides alternate, the one that goes first rotating each repetition, and the median
repetition is reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import (
    BENCH_DIR,
    LOOPML_PYTHON,
    Row,
    alternate,
    failure,
    fresh_dir,
    median_of,
    ms,
    python_one_liner,
    run_worker,
    say,
    script_main,
)

ZENML_PYTHON = BENCH_DIR / ".venv-zenml" / "bin" / "python"
KEDRO_PYTHON = BENCH_DIR / ".venv-kedro" / "bin" / "python"
LOOPML_WORKER = BENCH_DIR / "_loopml_pipelines_worker.py"
# side -> (interpreter, worker, workload of the overhead line, extra parameters)
SIDES: dict[str, tuple[Path, Path, str, dict[str, Any]]] = {
    "loopml": (LOOPML_PYTHON, LOOPML_WORKER, "overhead", {"executor": "local"}),
    "zenml": (ZENML_PYTHON, BENCH_DIR / "_zenml_worker.py", "overhead", {}),
    "kedro": (KEDRO_PYTHON, BENCH_DIR / "_kedro_worker.py", "overhead", {}),
    "kedro-info": (KEDRO_PYTHON, BENCH_DIR / "_kedro_worker.py", "overhead", {"quiet": False}),
    "loopml-process": (LOOPML_PYTHON, LOOPML_WORKER, "overhead", {"executor": "process://2"}),
    "pool": (LOOPML_PYTHON, LOOPML_WORKER, "pool", {"workers": 2}),
}
NAMES = {"loopml": "loopml", "zenml": "ZenML", "kedro": "Kedro", "pool": "process pool"}
STEP_MS_TARGET = 2.0
CACHED_MS_TARGET = 100.0
RSS_MB_TARGET = 300.0


@dataclass(frozen=True)
class Sizes:
    reps: int
    steps: int  # the overhead and RSS lines
    warmup_steps: int  # an untimed run first, in the same process
    cached_steps: int


FULL = Sizes(reps=5, steps=100, warmup_steps=4, cached_steps=20)
QUICK = Sizes(reps=1, steps=10, warmup_steps=4, cached_steps=5)


def worker(side: str, workload: str | None = None, **params: Any) -> Callable[[], dict[str, Any]]:
    """A callable that runs one workload for one side in a fresh directory."""
    python, script, default, extra = SIDES[side]
    if workload is not None:  # the side's extra parameters are for its overhead workload
        default, extra = workload, {}

    def call() -> dict[str, Any]:
        with fresh_dir(f"{side}-pipelines") as directory:
            return run_worker(python, script, default, {**extra, **params}, directory)

    return call


def fresh_rerun(side: str, steps: int) -> Callable[[], dict[str, Any]]:
    """A first run in one process, then the cached re-run in another, on the same store."""
    python, script, _, _ = SIDES[side]

    def call() -> dict[str, Any]:
        with fresh_dir(f"{side}-rerun") as directory:
            first = run_worker(python, script, "prepare", {"steps": steps}, directory)
            result = run_worker(python, script, "cached_fresh", {"steps": steps}, directory)
        return {**result, "first_seconds": first["seconds"]}

    return call


def run(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    for python in (ZENML_PYTHON, KEDRO_PYTHON):
        if not python.exists():
            raise SystemExit(f"{python} is missing: run `make bench-setup` first")
    sizes = QUICK if quick else FULL
    versions = collect_versions()
    say(f"pipelines: {versions['summary']}")
    overhead = alternate(
        sizes.reps,
        {
            side: worker(side, steps=sizes.steps, warmup_steps=sizes.warmup_steps)
            if side != "pool"
            else worker(side, steps=sizes.steps)
            for side in SIDES
        },
        f"overhead, {sizes.steps} steps",
    )
    cached = alternate(
        sizes.reps,
        {side: worker(side, "cached", steps=sizes.cached_steps) for side in ("loopml", "zenml")},
        f"cached re-run, {sizes.cached_steps} steps",
    )
    fresh = alternate(
        sizes.reps,
        {side: fresh_rerun(side, sizes.cached_steps) for side in ("loopml", "zenml")},
        f"cached re-run in a fresh process, {sizes.cached_steps} steps",
    )
    rows = [
        *overhead_rows(overhead, sizes),
        *cached_rows(cached, fresh, sizes),
        *rss_rows(overhead, sizes),
    ]
    if quick:  # the targets are stated for the full sizes
        for row in rows:
            row.passed = None
            row.target = f"({row.target})" if row.target != "—" else row.target
    return rows, versions


# -- rows ------------------------------------------------------------------------------


def overhead_rows(results: dict[str, list[dict[str, Any]]], sizes: Sizes) -> list[Row]:
    n = sizes.steps
    timed = (
        f"timed: the run call (tracing or compiling the pipeline, running it, recording it, "
        f"returning the run) after an untimed {sizes.warmup_steps}-step run in the same "
        f"process; overhead = (wall time - time inside the step bodies) / {n}; median of "
        f"{sizes.reps} repetitions, each a fresh process and store"
    )
    zenml = _pair_row(
        f"per-step overhead, {n}-step pipeline (local executor)",
        results,
        "zenml",
        key="overhead_s",
        show=_per_step,
        target=(f"≤ {STEP_MS_TARGET:g} ms/step", lambda s: s * 1000 <= STEP_MS_TARGET),
        note=(
            "no-op steps (a source, then diamonds x -> x+1, x+2 -> max+1, then a chain); "
            "loopml: Pipeline.run(executor='local') with tracking, cache and lineage on (the "
            "defaults), SQLite store; ZenML: the default stack (local orchestrator, in "
            f"process), local SQLite store, caching on; {timed}; runs took "
            f"{_walls(results, ('loopml', 'zenml'))}"
        ),
    )
    verbose = results["kedro-info"]
    kedro_note = (
        "Kedro: Pipeline + DataCatalog of MemoryDatasets built and run by a bare "
        "SequentialRunner (no session); it records nothing and caches nothing, so this is the "
        "floor of an in-process DAG runner; its loggers at WARNING (the same run at Kedro's "
        "default INFO logging, through rich to a pipe: "
        + ("crashed" if failure(verbose) else _per_step(median_of(verbose, "overhead_s")))
        + f"); {timed}; runs took {_walls(results, ('loopml', 'kedro'))}"
    )
    kedro = _pair_row(
        f"per-step overhead, {n}-step pipeline, vs Kedro (no tracking)",
        results,
        "kedro",
        key="overhead_s",
        show=_per_step,
        target=None,
        note=kedro_note,
    )
    kedro.raw["kedro-info"] = verbose
    process = {"loopml": results["loopml-process"], "pool": results["pool"]}
    pool = _pair_row(
        f"per-step overhead, {n} steps, process executor vs a bare process pool",
        process,
        "pool",
        key="overhead_s",
        show=_per_step,
        target=None,
        note=(
            "loopml: the same pipeline with executor='process://2' (each step pickled to a "
            "forked worker, which stores its outputs and tracks its run); right-hand cell: "
            f"{n} chained tasks (each submitted when the previous returns) on a "
            "concurrent.futures.ProcessPoolExecutor(2) that has already started, i.e. the "
            "floor of handing a task to another process, not a pipeline tool, so no ratio"
        ),
    )
    if pool.ratio is not None:
        pool.note += f"; loopml's overhead is {1 / pool.ratio:,.0f}x this floor"
        pool.ratio = None
    return [zenml, kedro, pool]


def cached_rows(
    same: dict[str, list[dict[str, Any]]], fresh: dict[str, list[dict[str, Any]]], sizes: Sizes
) -> list[Row]:
    n = sizes.cached_steps
    checked = "every step reported cached and no step body ran, on both sides"
    same_row = _pair_row(
        f"fully cached re-run, {n} steps, same process",
        same,
        "zenml",
        key="seconds",
        show=ms,
        target=(f"< {CACHED_MS_TARGET:g} ms", lambda s: s * 1000 < CACHED_MS_TARGET),
        note=(
            f"the same {n}-step pipeline run twice in one process, the second run timed "
            f"(the first took {_walls(same, ('loopml', 'zenml'), 'first_seconds')}); "
            f"{checked}; median of {sizes.reps} repetitions"
        ),
    )
    fresh_row = _pair_row(
        f"fully cached re-run, {n} steps, fresh process",
        fresh,
        "zenml",
        key="seconds",
        show=ms,
        target=None,
        note=(
            "the first run in one process, the re-run in a new one on the same store, timed "
            "from after the package's import (`import loopml`, `from zenml import pipeline, "
            "step`: loopml "
            f"{_median_text(fresh['loopml'], 'import_seconds')}, ZenML "
            f"{_median_text(fresh['zenml'], 'import_seconds')}, not timed) to the end of the "
            "run: opening the store, first-use imports, tracing or compiling, the run; "
            f"{checked}; the < {CACHED_MS_TARGET:g} ms target is judged on the line above"
        ),
    )
    loopml_same = same_row.loopml
    kedro_row = Row(
        f"fully cached re-run, {n} steps, vs Kedro",
        loopml_same,
        "n/a (no cache)",
        None,
        "—",
        None,
        note="Kedro has no step cache (a run recomputes every node); loopml: the same-process line",
    )
    return [same_row, fresh_row, kedro_row]


def rss_rows(results: dict[str, list[dict[str, Any]]], sizes: Sizes) -> list[Row]:
    n = sizes.steps

    def note(side: str) -> str:
        before = [
            f"{NAMES[s]} {_median_text(results[s], 'rss_before_mb', _mb)}" for s in ("loopml", side)
        ]
        return (
            "peak RSS (VmHWM) of the worker process of the overhead line: interpreter, "
            f"imports, store, the warm-up run and the {n}-step run; before the {n}-step run: "
            + ", ".join(before)
        )

    zenml = _pair_row(
        f"peak RSS, {n}-step run",
        results,
        "zenml",
        key="rss_mb",
        show=_mb,
        target=(f"< {RSS_MB_TARGET:g} MB", lambda mb: mb < RSS_MB_TARGET),
        note=note("zenml"),
    )
    kedro = _pair_row(
        f"peak RSS, {n}-step run, vs Kedro",
        results,
        "kedro",
        key="rss_mb",
        show=_mb,
        target=None,
        note=note("kedro"),
    )
    return [zenml, kedro]


def _pair_row(
    workload: str,
    results: dict[str, list[dict[str, Any]]],
    anchor: str,
    *,
    key: str,
    show: Callable[[float], str],
    target: tuple[str, Callable[[float], bool]] | None,
    note: str,
) -> Row:
    """A line comparing loopml with ``anchor`` on ``key``; lower is better."""
    loopml_error, anchor_error = failure(results["loopml"]), failure(results[anchor])
    row = Row(workload, "crashed", "crashed", None, target[0] if target else "—", None, note)
    row.raw = {"loopml": results["loopml"], anchor: results[anchor]}
    values = {}
    if not loopml_error:
        values["loopml"] = median_of(results["loopml"], key)
        row.loopml = show(values["loopml"])
        if target is not None:
            row.passed = target[1](values["loopml"])
    elif target is not None:
        row.passed = False
    if not anchor_error:
        values[anchor] = median_of(results[anchor], key)
        row.anchor = f"{show(values[anchor])} ({NAMES[anchor]})"
    if len(values) == 2 and values["loopml"] > 0:
        row.ratio = values[anchor] / values["loopml"]
    for name, error in (("loopml", loopml_error), (NAMES[anchor], anchor_error)):
        if error:
            row.note += f"; {name} CRASHED: {' '.join(error.split())[:600]}"
    return row


def _per_step(seconds: float) -> str:
    value = seconds * 1000
    digits = 3 if value < 1 else 2 if value < 10 else 0
    return f"{value:,.{digits}f} ms/step"


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _median_text(results: list[dict[str, Any]], key: str, show: Callable[[float], str] = ms) -> str:
    if failure(results) or not results:
        return "crashed"
    return show(median_of(results, key))


def _walls(
    results: dict[str, list[dict[str, Any]]], sides: tuple[str, ...], key: str = "seconds"
) -> str:
    return ", ".join(f"{NAMES[s]} {_median_text(results[s], key)}" for s in sides)


# -- versions --------------------------------------------------------------------------

_VERSIONS_CODE = """
import importlib.metadata as m, json, platform, sqlite3
out = {{}}
for name in {names!r}:
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        out[name] = None
out["python"] = platform.python_version()
out["sqlite"] = sqlite3.sqlite_version
print(json.dumps(out))
"""


def collect_versions() -> dict[str, Any]:
    def of(python: Path, names: list[str]) -> dict[str, Any]:
        return dict(json.loads(python_one_liner(python, _VERSIONS_CODE.format(names=names))))

    loopml_env = of(LOOPML_PYTHON, ["loopml", "sqlalchemy"])
    zenml_env = of(ZENML_PYTHON, ["zenml", "sqlalchemy", "sqlmodel", "pydantic"])
    kedro_env = of(KEDRO_PYTHON, ["kedro"])
    summary = (
        f"loopml {loopml_env['loopml']} (SQLAlchemy {loopml_env['sqlalchemy']}, SQLite "
        f"{loopml_env['sqlite']}, Python {loopml_env['python']}); ZenML {zenml_env['zenml']} "
        f"(SQLAlchemy {zenml_env['sqlalchemy']}, SQLModel {zenml_env['sqlmodel']}, Pydantic "
        f"{zenml_env['pydantic']}, SQLite {zenml_env['sqlite']}, Python {zenml_env['python']}); "
        f"Kedro {kedro_env['kedro']} (Python {kedro_env['python']})"
    )
    return {
        "loopml": loopml_env["loopml"],
        "zenml": zenml_env["zenml"],
        "kedro": kedro_env["kedro"],
        "loopml_env": loopml_env,
        "zenml_env": zenml_env,
        "kedro_env": kedro_env,
        "summary": summary,
    }


if __name__ == "__main__":
    script_main("pipelines", "ZenML / Kedro", run)
