"""Model registry: loopml against MLflow's registry on SQLite, in one run.

    .venv/bin/python bench/registry.py [--quick] [--json PATH]

Every workload runs in worker processes (``_loopml_registry_worker.py`` in this
interpreter, ``_mlflow_registry_worker.py`` in ``bench/.venv-mlflow``), each on a fresh
temporary store: loopml on ``Settings.load(home=tmp)`` (SQLite, local artifacts), MLflow
on ``sqlite:///tmp/mlflow.db`` (tracking and registry) with a file artifact root. Both sides
fit the same model: ``RandomForestClassifier(n_estimators=50, random_state=0)`` on
scikit-learn's bundled breast-cancer data, and check that what they load predicts the
same labels. The two sides alternate, the side that goes first rotating each repetition,
and each line reports the median repetition.

- load: the forest is logged to a run (untimed), loaded once (untimed: imports and
  caches), then loaded N times from ``runs:/<run>/model``, a fresh object each time, in the
  same process; a repetition's number is the median of its N loads.
- registry: one model with 1,000 versions registered from the run's package (untimed),
  then registering one more version, moving an alias and resolving ``models:/name@alias``
  are each timed N times after one untimed call; a repetition's number is their median.
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
    count,
    failure,
    fresh_dir,
    median_of,
    python_one_liner,
    run_worker,
    say,
    script_main,
)

MLFLOW_PYTHON = BENCH_DIR / ".venv-mlflow" / "bin" / "python"
WORKERS = {
    "loopml": (LOOPML_PYTHON, BENCH_DIR / "_loopml_registry_worker.py"),
    "mlflow": (MLFLOW_PYTHON, BENCH_DIR / "_mlflow_registry_worker.py"),
}
Results = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Sizes:
    reps: int
    loads: int  # timed loads per repetition, per loader
    versions: int  # registered before the registry operations are timed
    repeats: int  # timed calls of each registry operation per repetition


FULL = Sizes(reps=5, loads=20, versions=1_000, repeats=50)
QUICK = Sizes(reps=1, loads=3, versions=100, repeats=5)


def worker(side: str, workload: str, **params: Any) -> Callable[[], dict[str, Any]]:
    """A callable that runs one workload for one side in a fresh directory."""
    python, script = WORKERS[side]

    def call() -> dict[str, Any]:
        with fresh_dir(f"{side}-{workload}") as directory:
            return run_worker(python, script, workload, params, directory)

    return call


def run(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    if not MLFLOW_PYTHON.exists():
        raise SystemExit(f"{MLFLOW_PYTHON} is missing: run `make bench-setup` first")
    sizes = QUICK if quick else FULL
    versions = collect_versions()
    say(f"registry: loopml {versions['loopml']} vs MLflow {versions['mlflow']}")
    rows = [bench_load(sizes), *bench_registry(sizes)]
    if quick:  # the targets are stated for the full sizes
        for row in rows:
            row.passed = None
            row.target = f"({row.target})" if row.target != "—" else row.target
    return rows, versions


# -- the workloads ---------------------------------------------------------------------


def bench_load(sizes: Sizes) -> Row:
    results = alternate(
        sizes.reps,
        {
            "loopml": worker("loopml", "load", loads=sizes.loads),
            "mlflow": worker("mlflow", "load", loads=sizes.loads),
        },
        "load",
    )
    row = _compare(
        "load_model, 50-tree random forest (runs:/…/model)",
        results,
        key="seconds",
        target=("< 100 ms", 0.1),
        note=(
            "loopml.load_model (skops, the untrusted-types check, every file's digest "
            "checked against model.json) vs mlflow.pyfunc.load_model, the like-for-like "
            "loader: both resolve the URI, fetch the package and return a wrapper whose "
            "predict enforces the logged signature. MLflow logs the forest in its default "
            "format, skops, with skops_trusted_types=['sklearn.tree._tree.Tree'] (it refuses "
            "to save it otherwise) and loads nothing, skops included, without "
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true. "
            f"Median of {sizes.loads} loads per repetition (fresh object each, same process, "
            f"after one untimed load), median over {_reps(sizes.reps)}"
        ),
    )
    _check_agree(row, results, "positives", "predicted positives")
    mlflow = results["mlflow"]
    if mlflow and not failure(mlflow):
        row.note += (
            f"; MLflow's other loaders, same runs: mlflow.sklearn.load_model (the bare "
            f"estimator, no signature check) {_ms(median_of(mlflow, 'sklearn_seconds'))}, and "
            f"the same forest logged in MLflow's pickle format (no type audit at all) "
            f"{_ms(median_of(mlflow, 'pickle_seconds'))}"
        )
    sizes_kb = {
        side: median_of(results[side], "package_bytes") / 1024
        for side in ("loopml", "mlflow")
        if results[side] and not failure(results[side])
    }
    if sizes_kb:
        row.note += "; package size " + ", ".join(
            f"{side} {kb:,.0f} KiB" for side, kb in sizes_kb.items()
        )
    loopml = results["loopml"]
    if loopml and not failure(loopml):
        row.note += (
            "; loopml fetches a package into its cache (<home>/cache/packages) once and "
            "verifies it on every load, while MLflow copies it into a new temporary folder "
            "on every load (and leaves it there): loopml with its cache emptied before each "
            f"load {_ms(median_of(loopml, 'uncached_seconds'))}; "
            "loopml.load_model('models:/forest@champion') of the same package registered "
            f"{_ms(median_of(loopml, 'alias_seconds'))}"
        )
    return row


OPERATIONS = (
    (
        "register",
        "register a version",
        "loopml RegistryClient.register('runs:/<run>/model', name) (reads model.json, "
        "records the version's files, lineage, audit row and event) vs "
        "MlflowClient.create_model_version(name, source, run_id, model_id) (records the "
        "source URI; what mlflow.register_model calls once it has looked the run's model up)",
    ),
    (
        "set_alias",
        "move an alias",
        "loopml RegistryClient.set_alias (with alias history, audit row and event) vs "
        "MlflowClient.set_registered_model_alias",
    ),
    (
        "resolve",
        "resolve models:/name@alias",
        "loopml RegistryClient.resolve('models:/forest@champion') vs "
        "MlflowClient.get_model_version_by_alias('forest', 'champion'); both return the "
        "version's record",
    ),
)


def bench_registry(sizes: Sizes) -> list[Row]:
    params = {"versions": sizes.versions, "repeats": sizes.repeats}
    results = alternate(
        sizes.reps,
        {
            "loopml": worker("loopml", "registry", **params),
            "mlflow": worker("mlflow", "registry", **params),
        },
        "registry",
    )
    method = (
        f"{count(sizes.versions)} versions of one model registered first (untimed); median "
        f"of {sizes.repeats} calls per repetition after one untimed call, median over "
        f"{_reps(sizes.reps)}; SQLite on both sides"
    )
    durability = (
        "; loopml's SQLite runs in WAL mode with synchronous=NORMAL (no fsync per commit; a "
        "power cut can lose the last commits, not corrupt the file), MLflow's in SQLite's "
        "defaults (rollback journal, synchronous=FULL: fsyncs on every commit), which is "
        "part of the gap on writes"
    )
    rows = []
    for key, title, what in OPERATIONS:
        rows.append(
            _compare(
                f"{title}, {count(sizes.versions)} versions registered",
                results,
                key=key,
                target=("< 5 ms", 0.005),
                note=f"{what}; {method}" + (durability if key != "resolve" else ""),
            )
        )
    populated = {
        side: median_of(results[side], "populate_seconds")
        for side in ("loopml", "mlflow")
        if results[side] and not failure(results[side])
    }
    dead_hook = (
        median_of(results["loopml"], "set_alias_dead_webhook")
        if results["loopml"] and not failure(results["loopml"])
        else None
    )
    if dead_hook is not None:  # loopml only: MLflow's registry has no webhooks
        rows[1].note += (
            f"; loopml with a webhook to a receiver that is down: {_ms(dead_hook)} "
            "(delivery and its retries run outside the move)"
        )
    if populated:
        rows[0].note += f"; registering the first {count(sizes.versions)} took " + ", ".join(
            f"{side} {seconds:,.1f} s" for side, seconds in populated.items()
        )
    return rows


# -- rows ------------------------------------------------------------------------------


def _compare(
    workload: str,
    results: Results,
    *,
    key: str,
    target: tuple[str, float],
    note: str,
) -> Row:
    """A line whose numbers are durations (``key`` in seconds) of the same work."""
    loopml_error, mlflow_error = failure(results["loopml"]), failure(results["mlflow"])
    row = Row(workload, "crashed", "crashed", None, target[0], False, note, raw=results)
    seconds = {}
    for side, error in (("loopml", loopml_error), ("mlflow", mlflow_error)):
        if error or not results[side]:
            continue
        seconds[side] = median_of(results[side], key)
        if side == "loopml":
            row.loopml = _ms(seconds[side])
            row.passed = seconds[side] < target[1]
        else:
            row.anchor = _ms(seconds[side])
    if len(seconds) == 2 and seconds["loopml"] > 0:
        row.ratio = seconds["mlflow"] / seconds["loopml"]
    for side, error in (("loopml", loopml_error), ("MLflow", mlflow_error)):
        if error:
            row.note += f"; {side} CRASHED: {' '.join(error.split())[:600]}"
    return row


def _check_agree(row: Row, results: Results, key: str, what: str) -> None:
    """Say on the line when the two sides' loaded models did not predict the same."""
    seen = {
        side: results[side][0][key]
        for side in ("loopml", "mlflow")
        if results[side] and not failure(results[side])
    }
    if len(set(seen.values())) > 1:
        row.note += f"; the sides DISAGREE on {what}: {seen}"


def _ms(seconds: float) -> str:
    """Milliseconds with a decimal below 10 ms (the registry lines sit around 1-10 ms)."""
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def _reps(reps: int) -> str:
    return f"{reps} repetition{'s' if reps != 1 else ''}"


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
_NAMES = ["sqlalchemy", "scikit-learn", "skops"]


def collect_versions() -> dict[str, Any]:
    loopml_env = json.loads(
        python_one_liner(LOOPML_PYTHON, _VERSIONS_CODE.format(names=["loopml", *_NAMES]))
    )
    mlflow_env = json.loads(
        python_one_liner(MLFLOW_PYTHON, _VERSIONS_CODE.format(names=["mlflow", *_NAMES]))
    )

    def libraries(env: dict[str, Any]) -> str:
        return (
            f"scikit-learn {env['scikit-learn']}, skops {env['skops']}, SQLAlchemy "
            f"{env['sqlalchemy']}, SQLite {env['sqlite']}, Python {env['python']}"
        )

    return {
        "loopml": loopml_env["loopml"],
        "mlflow": mlflow_env["mlflow"],
        "loopml_env": loopml_env,
        "mlflow_env": mlflow_env,
        "mlflow_python": str(Path(MLFLOW_PYTHON)),
        "summary": (
            f"loopml {loopml_env['loopml']} ({libraries(loopml_env)}); "
            f"MLflow {mlflow_env['mlflow']} ({libraries(mlflow_env)})"
        ),
    }


if __name__ == "__main__":
    script_main("model registry", "MLflow", run)
