"""Feature store: loopml against Feast on the same workloads, in one run.

    .venv/bin/python bench/features.py [--quick] [--json PATH]

Both sides read the same Parquet files (written once per run, ``driver_id`` + ``ts`` + ten
float64 features, a 7-day TTL on both views) and use SQLite as the online store. Every
workload runs in worker processes (``_loopml_features_worker.py`` in this interpreter,
``_feast_worker.py`` in ``bench/.venv-feast``): loopml on ``Settings.load(home=tmp)``,
Feast on a fresh feature repo per repetition (provider ``local``, file registry, SQLite
online store, the ``file`` offline store, i.e. pandas/Dask, and for some lines also the
``duckdb`` one). The sides alternate, the one that goes first rotating each repetition,
and the median repetition is reported.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import (
    BENCH_DIR,
    LOOPML_PYTHON,
    Row,
    WorkerError,
    alternate,
    count,
    failure,
    fresh_dir,
    median_of,
    ms,
    python_one_liner,
    run_worker,
    say,
    script_main,
    secs,
)

FEAST_PYTHON = BENCH_DIR / ".venv-feast" / "bin" / "python"
LOOPML_WORKER = BENCH_DIR / "_loopml_features_worker.py"
FEAST_WORKER = BENCH_DIR / "_feast_worker.py"
# side -> (interpreter, worker, extra parameters)
SIDES: dict[str, tuple[Path, Path, dict[str, Any]]] = {
    "loopml": (LOOPML_PYTHON, LOOPML_WORKER, {}),
    "feast": (FEAST_PYTHON, FEAST_WORKER, {"offline_store": "file"}),
    "feast-duckdb": (FEAST_PYTHON, FEAST_WORKER, {"offline_store": "duckdb"}),
    "pandas": (LOOPML_PYTHON, LOOPML_WORKER, {}),  # the merge_asof floor; no feature store
}
TTL_DAYS = 7.0
FEATURES = 10
ROWS_PER_ENTITY = 10  # in the training-set source


@dataclass(frozen=True)
class Sizes:
    reps: int  # the cheap workloads, and materializing for both sides
    entities: int  # materialize (both) and the online store the lookups read
    big_entities: int  # materialize, loopml only
    big_reps: int  # loopml's big materialize, every side's big training set
    duckdb_materialize_reps: int
    lookups: tuple[int, int]  # measured lookups of 1 and of 100 entities
    warmup: tuple[int, int]  # lookups run first and not counted
    training_rows: int  # entity rows, every side
    big_training_rows: int  # loopml; Feast too if it finishes within the deadline
    source_entities: int  # the training source has ROWS_PER_ENTITY rows for each
    warmup_rows: int  # a first, untimed training set call on this many rows
    feast_deadline_s: float


FULL = Sizes(
    reps=3,
    entities=100_000,
    big_entities=1_000_000,
    big_reps=3,
    duckdb_materialize_reps=3,
    lookups=(2_000, 500),
    warmup=(500, 100),
    training_rows=100_000,
    big_training_rows=1_000_000,
    source_entities=100_000,
    warmup_rows=1_000,
    feast_deadline_s=60,
)
QUICK = Sizes(
    reps=1,
    entities=10_000,
    big_entities=50_000,
    big_reps=1,
    duckdb_materialize_reps=1,
    lookups=(200, 50),
    warmup=(50, 10),
    training_rows=10_000,
    big_training_rows=50_000,
    source_entities=10_000,
    warmup_rows=1_000,
    feast_deadline_s=60,
)
BATCHES = (1, 100)


def worker(
    side: str, workload: str, keep: Path | None = None, **params: Any
) -> Callable[[], dict[str, Any]]:
    """A callable that runs one workload for one side in a fresh directory.

    With ``keep``, the directory the first successful run leaves behind (the store it
    filled) is copied there, for the workloads that read a populated store.
    """
    python, script, extra = SIDES[side]
    params = {**params, **extra}

    def call() -> dict[str, Any]:
        with fresh_dir(f"{side}-{workload}") as directory:
            result = run_worker(python, script, workload, params, directory)
            if keep is not None and not keep.exists():
                shutil.copytree(directory, keep)
        return result

    return call


def reader(side: str, populated: Path, **params: Any) -> Callable[[], dict[str, Any]]:
    """A callable that runs the online workload on a fresh copy of a populated store."""
    python, script, _ = SIDES[side]

    def call() -> dict[str, Any]:
        if not populated.exists():
            raise WorkerError(f"no populated {side} store: its materialize runs failed")
        with fresh_dir(f"{side}-online") as directory:
            shutil.copytree(populated, directory, dirs_exist_ok=True)
            return run_worker(python, script, "online", params, directory)

    return call


def run(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    if not FEAST_PYTHON.exists():
        raise SystemExit(f"{FEAST_PYTHON} is missing: run `make bench-setup` first")
    sizes = QUICK if quick else FULL
    versions = collect_versions()
    say(f"features: loopml {versions['loopml']} vs Feast {versions['feast']}")
    with fresh_dir("features-data") as data:
        files = write_data(data, sizes)
        materialized, online_rows = bench_materialize_and_online(sizes, files, data)
        rows = [*materialized, *online_rows, *bench_training(sizes, files)]
    if quick:  # the targets are stated for the full sizes
        for row in rows:
            row.passed = None
            row.target = f"({row.target})" if row.target != "—" else row.target
    return rows, versions


# -- the data --------------------------------------------------------------------------


def write_data(root: Path, sizes: Sizes) -> dict[str, Any]:
    """The Parquet files every side reads; times are relative to now (UTC).

    The materialize sources hold one row per entity from the last 6 days (so within the
    TTL when looked up); the training source holds ``ROWS_PER_ENTITY`` rows per entity
    spread over 30 days, and the entity frames ask for times over those days and one more.
    """
    import numpy as np
    import pandas as pd

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    origin = now - timedelta(days=31)
    rng = np.random.default_rng(20250101)

    def stamps(start: datetime, days: float, n: int) -> Any:
        offsets = rng.integers(0, int(days * 86_400), n)
        return pd.Timestamp(start) + pd.to_timedelta(offsets, unit="s")

    def source(path: Path, ids: Any, start: datetime, days: float) -> str:
        frame = pd.DataFrame({"driver_id": ids, "ts": stamps(start, days, len(ids))})
        for i in range(FEATURES):
            frame[f"f{i}"] = rng.random(len(ids))
        frame.to_parquet(path, index=False, row_group_size=256_000)
        return str(path)

    def entity_df(path: Path, n: int) -> str:
        frame = pd.DataFrame(
            {
                "driver_id": rng.integers(0, sizes.source_entities, n),
                "event_timestamp": stamps(origin, 31, n),
            }
        )
        frame.to_parquet(path, index=False)
        return str(path)

    recent = now - timedelta(days=6, hours=1)
    files = {
        "materialize": source(root / "m.parquet", np.arange(sizes.entities), recent, 6),
        "materialize_big": source(root / "mb.parquet", np.arange(sizes.big_entities), recent, 6),
        "training": source(
            root / "t.parquet",
            np.repeat(np.arange(sizes.source_entities), ROWS_PER_ENTITY),
            origin,
            30,
        ),
        "entities": entity_df(root / "e.parquet", sizes.training_rows),
        "entities_big": entity_df(root / "eb.parquet", sizes.big_training_rows),
        "window": ((now - timedelta(days=8)).isoformat(), now.isoformat()),
    }
    say(f"  wrote the Parquet sources and entity frames in {root}")
    return files


# -- the workloads ---------------------------------------------------------------------


def bench_materialize_and_online(
    sizes: Sizes, files: dict[str, Any], data: Path
) -> tuple[list[Row], list[Row]]:
    start, end = files["window"]
    common = {"ttl_days": TTL_DAYS, "start": start, "end": end}
    small = {"source": files["materialize"], "entities": sizes.entities, **common}
    populated = {side: data / f"populated-{side}" for side in ("loopml", "feast")}
    results = alternate(
        sizes.reps,
        {side: worker(side, "materialize", populated[side], **small) for side in populated},
        "materialize",
    )
    duckdb = alternate(
        sizes.duckdb_materialize_reps,
        {"feast-duckdb": worker("feast-duckdb", "materialize", **small)},
        "materialize",
    )
    big = {"source": files["materialize_big"], "entities": sizes.big_entities, **common}
    big_results = alternate(
        sizes.big_reps, {"loopml": worker("loopml", "materialize", **big)}, "materialize"
    )
    n = count(sizes.entities)
    method = (
        f"{n} entities x {FEATURES} float64 features, one row each, materialize(start, end) "
        "into SQLite on a fresh store (loopml: FeatureStore.materialize; Feast: "
        "FeatureStore.materialize, provider local, the default `local` materialization "
        "engine), first call in a "
        "fresh process; applying the definitions is not timed"
    )
    rows = [
        _compare(
            f"materialize {n} entities x {FEATURES} features",
            results,
            target=("< 1 s", lambda s: s < 1),
            note=f"{method}; Feast offline store `file`; {_reps(sizes.reps)}",
            show=secs,
        ),
        _compare(
            f"materialize {n} entities, Feast offline store duckdb",
            {"loopml": results["loopml"], "feast": duckdb["feast-duckdb"]},
            note=(
                f"as the line above, Feast with `offline_store: type: duckdb`; "
                f"{_reps(sizes.duckdb_materialize_reps)} for Feast"
            ),
            show=secs,
        ),
        _big_materialize_row(sizes, big_results, results),
    ]
    return rows, bench_online(sizes, populated)


def _big_materialize_row(
    sizes: Sizes, big: dict[str, list[dict[str, Any]]], small: dict[str, list[dict[str, Any]]]
) -> Row:
    n, n_small = count(sizes.big_entities), count(sizes.entities)
    row = _compare(
        f"materialize {n} entities x {FEATURES} features",
        {"loopml": big["loopml"], "feast": []},
        target=("< 10 s", lambda s: s < 10),
        note=(
            f"loopml only; Feast's cell is its rate on the {n_small}-entity line (Feast was "
            f"not run at {n}), the ratio compares rates; {_reps(sizes.big_reps)}"
        ),
        show=secs,
    )
    loopml, feast = big["loopml"], small["feast"]
    if failure(loopml) is None:
        loopml_rate = sizes.big_entities / median_of(loopml)
        row.loopml += f" ({loopml_rate:,.0f} entities/s)"
        if feast and failure(feast) is None:
            feast_rate = sizes.entities / median_of(feast)
            row.anchor = f"{feast_rate:,.0f} entities/s ({n_small} run)"
            row.ratio = loopml_rate / feast_rate
    return row


def bench_online(sizes: Sizes, populated: dict[str, Path]) -> list[Row]:
    params = {
        "entities": sizes.entities,
        "batches": list(BATCHES),
        "lookups": list(sizes.lookups),
        "warmup": list(sizes.warmup),
        "seed": 7,
    }
    results = alternate(
        sizes.reps, {side: reader(side, populated[side], **params) for side in populated}, "online"
    )
    rows = []
    targets = {
        (1, "p99"): ("< 0.2 ms", lambda s: s < 0.0002),
        (100, "p99"): ("< 1 ms", lambda s: s < 0.001),
    }
    method = (
        "loopml get_online_features(rows, refs).to_dict(); Feast get_online_features("
        "features=refs, entity_rows=rows).to_dict(); both on SQLite, each repetition on a "
        f"fresh copy of a store the {count(sizes.entities)}-entity materialize line filled, "
        "random entities (same seed on both sides), one lookup at a time; the median over "
        f"{_reps(sizes.reps)} of each repetition's percentile"
    )
    for batch, measured, ignored in zip(BATCHES, sizes.lookups, sizes.warmup, strict=True):
        what = "1 entity" if batch == 1 else f"{batch} entities"
        for stat in ("p50", "p99"):
            note = f"{stat} of {measured:,} lookups after {ignored:,} warm-up ones"
            rows.append(
                _compare(
                    f"online lookup, {what} x {FEATURES} features, {stat}",
                    results,
                    key=f"{stat}_{batch}",
                    target=targets.get((batch, stat)),
                    note=f"{note}; {method}" if not rows else note,
                    show=_ms_fine,
                )
            )
    _check_agree(rows[0], results, "check", "f0 values for entities 0-99")
    return rows


def bench_training(sizes: Sizes, files: dict[str, Any]) -> list[Row]:
    base = {"source": files["training"], "ttl_days": TTL_DAYS, "warmup_rows": sizes.warmup_rows}
    small = {**base, "entity_df": files["entities"]}
    sides = ("loopml", "feast", "feast-duckdb")
    results = alternate(
        sizes.reps,
        {
            **{side: worker(side, "training", **small) for side in sides},
            "pandas": worker("pandas", "merge_asof", **small),
        },
        "training",
    )
    big = {**base, "entity_df": files["entities_big"], "deadline_s": sizes.feast_deadline_s}
    big_results = alternate(
        sizes.big_reps,
        {
            **{side: _unless_skipped(worker(side, "training", **big)) for side in sides},
            "pandas": worker("pandas", "merge_asof", **big),
        },
        "training",
    )

    n, n_big = count(sizes.training_rows), count(sizes.big_training_rows)
    source = (
        f"{count(sizes.source_entities * ROWS_PER_ENTITY)}-row source ({ROWS_PER_ENTITY} rows "
        f"per entity over 30 days), {TTL_DAYS:.0f}-day TTL"
    )
    method = (
        f"{source}; loopml get_training_set(entity_df, refs); Feast "
        "get_historical_features(entity_df, refs).to_df(); both read the Parquet source "
        f"inside the timed call, after an untimed {count(sizes.warmup_rows)}-row warm-up call"
    )
    rows = []
    deadline = (
        f"; Feast runs are abandoned (and the line says so) when still running after "
        f"{sizes.feast_deadline_s:.0f} s"
    )
    for size, label, res, reps in (
        (sizes.training_rows, n, results, sizes.reps),
        (sizes.big_training_rows, n_big, big_results, sizes.big_reps),
    ):
        rep_text = _reps(reps)
        big_line = size == sizes.big_training_rows
        target = ("< 2 s", lambda s: s < 2) if big_line else None
        main = _compare(
            f"point-in-time training set, {label} entity rows x {FEATURES} features",
            {"loopml": res["loopml"], "feast": res["feast"]},
            target=target,
            note=(
                f"{method}; Feast offline store `file` (pandas/Dask); {rep_text}"
                f"{deadline if big_line else ''}"
            ),
            show=secs,
        )
        _note_rows(main, res)
        rows.append(main)
        rows.append(
            _compare(
                f"point-in-time training set, {label} rows, Feast offline store duckdb",
                {"loopml": res["loopml"], "feast": res["feast-duckdb"]},
                note=f"as the line above, Feast with `offline_store: type: duckdb`; {rep_text}",
                show=secs,
            )
        )
        floor = _compare(
            f"point-in-time training set, {label} rows, vs pandas merge_asof (floor, not Feast)",
            {"loopml": res["loopml"], "feast": res["pandas"]},
            note=(
                "the right-hand cell is a hand-written pandas.merge_asof(by='driver_id', "
                f"direction='backward', tolerance={TTL_DAYS:.0f} days) on frames already in "
                "memory (both sorted by time inside the timed part), in loopml's "
                "interpreter: what a point-in-time join costs with no feature store; "
                f"reading the Parquet source took another {_read_seconds(res['pandas'])} "
                f"there; {rep_text}"
            ),
            show=secs,
        )
        if floor.anchor not in ("—", "crashed"):
            floor.anchor += " (pandas)"
        rows.append(floor)
    rows.append(_rss_row(sizes, big_results))
    return rows


def _unless_skipped(call: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """``call``, except that once it reported a skip it is not run again (same report)."""
    skipped: list[dict[str, Any]] = []

    def wrapped() -> dict[str, Any]:
        if skipped:
            return skipped[0]
        result = call()
        if "skipped" in result:
            skipped.append(result)
        return result

    return wrapped


def _rss_row(sizes: Sizes, results: dict[str, list[dict[str, Any]]]) -> Row:
    row = _compare(
        f"peak RSS, training set of {count(sizes.big_training_rows)} entity rows",
        {"loopml": results["loopml"], "feast": results["feast"]},
        key="rss_mb",
        target=("< 2 GB", lambda mb: mb < 2048),
        note=(
            "peak RSS (VmHWM) of the worker process, which does only this workload, "
            "taken right after the call"
        ),
        show=lambda mb: f"{mb:,.0f} MB",
    )
    parts = []
    names = {"loopml": "loopml", "feast": "Feast (file)", "feast-duckdb": "Feast (duckdb)"}
    for side, name in names.items():
        done = [r for r in results[side] if "rss_before_mb" in r and "skipped" not in r]
        if done:
            before, peak = median_of(done, "rss_before_mb"), median_of(done, "rss_mb")
            parts.append(f"{name} {peak:,.0f} MB ({before:,.0f} MB before the timed call)")
    if parts:
        row.note += (
            "; peak (and before the timed call: interpreter, imports, the entity frame, the "
            "warm-up call): " + ", ".join(parts)
        )
    return row


# -- rows ------------------------------------------------------------------------------


def _compare(
    workload: str,
    results: dict[str, list[dict[str, Any]]],
    *,
    note: str,
    show: Callable[[float], str],
    key: str = "seconds",
    target: tuple[str, Callable[[float], bool]] | None = None,
) -> Row:
    """A line comparing loopml's median ``key`` with the anchor's (lower is better)."""
    row = Row(workload, "crashed", "—", None, target[0] if target else "—", None, note)
    row.raw = results
    if target is not None:
        row.passed = False
    values = {}
    for side in ("loopml", "feast"):
        side_results = results.get(side, [])
        error = failure(side_results)
        skipped = [r["skipped"] for r in side_results if "skipped" in r]
        if error:
            row.note += f"; {'loopml' if side == 'loopml' else 'Feast'} CRASHED: "
            row.note += " ".join(error.split())[:600]
            if side == "feast":
                row.anchor = "crashed"
            continue
        if skipped:
            row.anchor = "skipped"
            row.note += f"; Feast skipped: {skipped[0]}"
            continue
        if not side_results:
            continue
        values[side] = median_of(side_results, key)
        if side == "loopml":
            row.loopml = show(values[side])
            if target is not None:
                row.passed = target[1](values[side])
        else:
            row.anchor = show(values[side])
    if len(values) == 2 and values["loopml"] > 0:
        row.ratio = values["feast"] / values["loopml"]
    return row


def _note_rows(row: Row, results: dict[str, list[dict[str, Any]]]) -> None:
    """Say whether every side's training set holds the same rows and values."""
    firsts = {
        side: next((r for r in rs if "rows" in r), None) for side, rs in results.items() if rs
    }
    done = {side: r for side, r in firsts.items() if r is not None}
    if "loopml" not in done:
        return
    want = done["loopml"]
    agree, differ = [], []
    names = {"feast": "Feast (file)", "feast-duckdb": "Feast (duckdb)", "pandas": "merge_asof"}
    for side, got in done.items():
        if side == "loopml":
            continue
        if _same(got, want, "") and got["rows"] == want["rows"]:
            agree.append(names[side])
            continue
        if _same(got, want, "distinct_"):
            differ.append(
                f"{names[side]} returned {got['rows']:,} rows, not {want['rows']:,}: it leaves "
                "out the entity rows that have no value within the TTL instead of returning "
                "them with nulls"
                + (
                    f", and returns a repeated entity row (same driver_id and event_timestamp) "
                    f"once ({want['nonnull'] - got['nonnull']:,} fewer rows with values)"
                    if got["nonnull"] != want["nonnull"]
                    else ""
                )
                + "; the values it returns agree"
            )
        else:
            differ.append(
                f"{names[side]} DISAGREES: {got['rows']:,} rows, {got['nonnull']:,} values, "
                f"sum {got['f0_sum']} (loopml: {want['rows']:,}, {want['nonnull']:,}, "
                f"{want['f0_sum']})"
            )
    text = (
        f"loopml returned {want['rows']:,} rows, {want['nonnull']:,} with values "
        f"({want['rows'] - want['nonnull']:,} null: no row within the TTL)"
    )
    if agree:
        text += f"; {', '.join(agree)} returned the same rows and values"
    if differ:
        text += "; " + "; ".join(differ)
    row.note += "; " + text


def _check_agree(row: Row, results: dict[str, list[dict[str, Any]]], key: str, what: str) -> None:
    checks = {side: {r[key] for r in rs if key in r} for side, rs in results.items()}
    if all(checks.values()):
        same = checks["loopml"] == checks["feast"] and len(checks["loopml"]) == 1
        row.note += f"; both sides returned {'the same' if same else 'DIFFERENT'} {what}"


def _same(got: dict[str, Any], want: dict[str, Any], prefix: str) -> bool:
    """Whether two training sets hold the same values (all rows, or distinct entity rows)."""
    return got[f"{prefix}nonnull"] == want[f"{prefix}nonnull"] and _close(
        got[f"{prefix}f0_sum"], want[f"{prefix}f0_sum"]
    )


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _read_seconds(results: list[dict[str, Any]]) -> str:
    done = [r for r in results if "read_seconds" in r]
    return secs(median_of(done, "read_seconds")) if done else "?"


def _ms_fine(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms" if seconds < 0.001 else ms(seconds)


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


def collect_versions() -> dict[str, Any]:
    loopml_env = json.loads(
        python_one_liner(
            LOOPML_PYTHON,
            _VERSIONS_CODE.format(names=["loopml", "duckdb", "pandas", "pyarrow", "numpy"]),
        )
    )
    feast_env = json.loads(
        python_one_liner(
            FEAST_PYTHON,
            _VERSIONS_CODE.format(
                names=["feast", "pandas", "pyarrow", "dask", "duckdb", "ibis-framework"]
            ),
        )
    )
    summary = (
        f"loopml {loopml_env['loopml']} (DuckDB {loopml_env['duckdb']}, pandas "
        f"{loopml_env['pandas']}, PyArrow {loopml_env['pyarrow']}, SQLite "
        f"{loopml_env['sqlite']}, Python {loopml_env['python']}); Feast {feast_env['feast']} "
        f"(pandas {feast_env['pandas']}, Dask {feast_env['dask']}, PyArrow "
        f"{feast_env['pyarrow']}, DuckDB {feast_env['duckdb']}, Ibis "
        f"{feast_env['ibis-framework']}, SQLite {feast_env['sqlite']}, Python "
        f"{feast_env['python']})"
    )
    return {
        "loopml": loopml_env["loopml"],
        "feast": feast_env["feast"],
        "loopml_env": loopml_env,
        "feast_env": feast_env,
        "feast_python": str(FEAST_PYTHON),
        "summary": summary,
    }


if __name__ == "__main__":
    script_main("features", "Feast", run)
