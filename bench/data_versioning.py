"""Dataset versioning: loopml against DVC on the same folder of files, in one run.

    .venv/bin/python bench/data_versioning.py [--quick] [--json PATH]

The folder (10,000 files of 100 KiB of random bytes in 100 subfolders, about 1 GB) is
generated once per run in a temporary directory and removed at the end, also on failure.
Each repetition gives every side a fresh temporary directory holding a hard-linked copy of
it (the same inodes, so every side reads the same bytes from the same place on disk) and
a fresh store:

- ``loopml``: ``_loopml_data_worker.py version``, a fresh ``Settings.load(home=…)`` store;
- ``dvc``: ``_dvc_worker.py version`` in ``bench/.venv-dvc``, a fresh ``git init`` +
  ``dvc init`` repository with DVC's default cache type (``reflink,copy``);
- ``dvc-hardlink``: the same with ``cache.type hardlink`` (DVC links instead of copying);
- ``raw``: plain ``hashlib`` over the same files, the "hashing speed" reference.

Each side versions the folder, versions it again unchanged, and checks it, timing each
step on its own; the folder's pages are dropped from the OS file cache before the first
step and before each raw pass. The sides alternate, the one that goes first rotating each
repetition, and each line reports the median repetition.
"""

from __future__ import annotations

import json
import os
import random
import stat
import time
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
    secs,
)

DVC_PYTHON = BENCH_DIR / ".venv-dvc" / "bin" / "python"
LOOPML_WORKER = BENCH_DIR / "_loopml_data_worker.py"
DVC_WORKER = BENCH_DIR / "_dvc_worker.py"
QUIET_S = 2.5  # loopml caches a file's digest only once it has been unmodified for 2 s


@dataclass(frozen=True)
class Sizes:
    reps: int
    files: int
    file_bytes: int
    folders: int

    @property
    def total(self) -> int:
        return self.files * self.file_bytes


FULL = Sizes(reps=4, files=10_000, file_bytes=100 * 1024, folders=100)
QUICK = Sizes(reps=1, files=500, file_bytes=100 * 1024, folders=10)
Results = dict[str, list[dict[str, Any]]]


def run(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    if not DVC_PYTHON.exists():
        raise SystemExit(f"{DVC_PYTHON} is missing: run `make bench-setup` first")
    sizes = QUICK if quick else FULL
    versions = collect_versions()
    say(f"data versioning: loopml {versions['loopml']} vs DVC {versions['dvc']}")
    with fresh_dir("data-master") as root:
        master = root / "data"
        took = generate(master, sizes)
        say(f"  generated {count(sizes.files)} files, {sizes.total / 1e9:.2f} GB in {took:.1f} s")
        results = alternate(
            sizes.reps,
            {
                "loopml": version_side("loopml", master),
                "dvc": version_side("dvc", master),
                "dvc-hardlink": version_side("dvc", master, cache_type="hardlink"),
                "raw": raw_side(master),
            },
            "data versioning",
        )
    rows = make_rows(results, sizes)
    if quick:  # the targets are stated for the full sizes
        for row in rows:
            row.passed = None
            row.target = f"({row.target})" if row.target != "—" else row.target
    return rows, versions


# -- the data and the sides ------------------------------------------------------------


def generate(folder: Path, sizes: Sizes) -> float:
    """Write the files (seeded random bytes), flush them to disk, wait until they are quiet."""
    start = time.perf_counter()
    rng = random.Random(20240611)
    for i in range(sizes.files):
        sub = folder / f"part-{i % sizes.folders:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file-{i:05d}.bin").write_bytes(rng.randbytes(sizes.file_bytes))
    os.sync()
    took = time.perf_counter() - start
    # A file modified less than 2 s before loopml hashes it is hashed again next time (as
    # git does with "racy" index entries); data being versioned is normally older than that.
    time.sleep(max(0.0, QUIET_S - (time.time() - _newest_mtime(folder))))
    return took


def _newest_mtime(folder: Path) -> float:
    return max(path.stat().st_mtime for path in folder.rglob("*") if path.is_file())


def link_tree(source: Path, target: Path) -> None:
    """Recreate ``source`` at ``target`` with hard links (``cp -al``): same inodes, no copy."""
    for folder, _, names in os.walk(source):
        dest = target / Path(folder).relative_to(source)
        dest.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.link(Path(folder, name), dest / name)


def restore_modes(folder: Path) -> None:
    """Make the files writable again: DVC's hardlink mode makes the shared inodes read-only."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)


def version_side(
    side: str, master: Path, *, cache_type: str | None = None
) -> Callable[[], dict[str, Any]]:
    python, script = (DVC_PYTHON, DVC_WORKER) if side == "dvc" else (LOOPML_PYTHON, LOOPML_WORKER)
    params: dict[str, Any] = {"data": "data"}
    if cache_type is not None:
        params["cache_type"] = cache_type

    def call() -> dict[str, Any]:
        label = side if cache_type is None else f"{side}-{cache_type}"
        with fresh_dir(f"{label}-version") as directory:
            link_tree(master, directory / ("repo" if side == "dvc" else "") / "data")
            os.sync()  # nothing the previous side wrote is still waiting to go to disk
            try:
                return run_worker(python, script, "version", params, directory)
            finally:
                if side == "dvc":
                    restore_modes(master)

    return call


def raw_side(master: Path) -> Callable[[], dict[str, Any]]:
    def call() -> dict[str, Any]:
        with fresh_dir("raw-hashing") as directory:
            os.sync()
            return run_worker(LOOPML_PYTHON, LOOPML_WORKER, "raw", {"data": str(master)}, directory)

    return call


# -- rows ------------------------------------------------------------------------------


def make_rows(results: Results, sizes: Sizes) -> list[Row]:
    errors = {side: failure(runs) for side, runs in results.items()}
    ok = {side: runs for side, runs in results.items() if runs and not errors[side]}

    def med(side: str, key: str) -> float | None:
        return median_of(ok[side], key) if side in ok else None

    first = {side: med(side, "first_seconds") for side in ("loopml", "dvc", "dvc-hardlink")}
    again = {side: med(side, "again_seconds") for side in ("loopml", "dvc")}
    check = {side: med(side, "check_seconds") for side in ("loopml", "dvc")}
    rss = {side: med(side, "rss_mb") for side in ("loopml", "dvc")}
    size = f"{count(sizes.files)} files, {sizes.total / 1e9:.2f} GB"

    def speed(seconds: float | None) -> str:
        return "crashed" if seconds is None else f"{secs(seconds)} ({mb_s(sizes.total, seconds)})"

    def times(side: str, seconds: float | None) -> str:
        if seconds is None:
            return "crashed"
        base = first[side]
        if base is None or seconds <= 0:
            return secs(seconds)
        return f"{secs(seconds)} ({base / seconds:,.0f}x faster than first)"

    rows = [
        Row(
            f"first version of a folder ({size})",
            speed(first["loopml"]),
            speed(first["dvc"]),
            _ratio(first["dvc"], first["loopml"]),
            "close to hashing speed (next line)",
            None,
            note=first_note(ok, sizes),
        ),
        raw_row(first, ok, errors),
        Row(
            "re-version, folder unchanged",
            times("loopml", again["loopml"]),
            times("dvc", again["dvc"]),
            _ratio(again["dvc"], again["loopml"]),
            "≥ 10x faster than the first version",
            _faster(first["loopml"], again["loopml"], 10),
            note=(
                "loopml: DatasetClient.log again (returns version 1; digest cache, no file "
                "read); DVC: `dvc add data` again (its state database, same .dvc file)"
            ),
        ),
        Row(
            "check the unchanged folder",
            "crashed" if check["loopml"] is None else secs(check["loopml"]),
            "crashed" if check["dvc"] is None else secs(check["dvc"]),
            _ratio(check["dvc"], check["loopml"]),
            "—",
            None,
            note="loopml: DatasetClient.changed() (reports no change, hashed_files=0); "
            "DVC: `dvc status` (exit 0: up to date)",
        ),
        Row(
            "first version, DVC linking instead of copying",
            speed(first["loopml"]),
            speed(first["dvc-hardlink"]),
            None,
            "—",
            None,
            note=(
                "DVC with `dvc config cache.type hardlink`: its cache holds hard links to the "
                "workspace files (made read-only), so nothing is copied; loopml (same number "
                "as the first line) always copies into its blob store, so no ratio"
            ),
        ),
        Row(
            "peak RSS (first version + re-version + check)",
            "crashed" if rss["loopml"] is None else f"{rss['loopml']:,.0f} MB",
            "crashed" if rss["dvc"] is None else f"{rss['dvc']:,.0f} MB",
            _ratio(rss["dvc"], rss["loopml"]),
            "—",
            None,
            note="ru_maxrss of the whole worker process, including its imports",
        ),
    ]
    rows[0].raw = results  # every repetition of every side, for all the lines
    for side, error in errors.items():
        if error:
            rows[0].note += f"; {side} CRASHED: {' '.join(error.split())[:600]}"
    return rows


def first_note(ok: Results, sizes: Sizes) -> str:
    syncs = [
        f"{name} {secs(median_of(ok[side], 'sync_seconds'))}"
        for side, name in (("loopml", "loopml"), ("dvc", "DVC"))
        if side in ok
    ]
    note = (
        f"the folder: {sizes.files:,} files of {sizes.file_bytes // 1024} KiB of random bytes "
        f"in {sizes.folders} subfolders; MB = 10^6 bytes; median of {sizes.reps} repetitions. "
        "loopml: DatasetClient.log(name, folder) on a fresh store: SHA-256 of every file on "
        "a thread pool, then each file read again, copied into the content-addressed blob "
        "store and fsynced, then one SQLite transaction. DVC: `dvc add data` in a fresh "
        "git + DVC repository with the default cache.type (reflink,copy, i.e. copy on this "
        "ext4): MD5 of every file (one at a time: DVC hashes files under 2 MiB on its main "
        "thread), then each copied into .dvc/cache (made read-only), no fsync. Both read a "
        "hard-linked copy of the same files, dropped from the OS file cache first "
        "(posix_fadvise DONTNEED); each step runs in-process (DVC through dvc.cli.main), so "
        "starting the interpreter and imports are not timed"
    )
    if syncs:
        note += "; an os.sync() right after the step (untimed) took " + ", ".join(syncs)
    return note


def raw_row(first: dict[str, float | None], ok: Results, errors: dict[str, str | None]) -> Row:
    row = Row(
        "first version ÷ raw hashing of the same files",
        "crashed",
        "crashed",
        None,
        "~1.5x raw hash+copy (reported, not judged)",
        None,
    )
    if "raw" not in ok:
        row.note = f"raw reference CRASHED: {' '.join((errors['raw'] or '').split())[:600]}"
        return row
    runs = ok["raw"]
    total = runs[0]["bytes"]
    sha_1 = median_of(runs, "sha256_1_thread_seconds")
    sha_2 = median_of(runs, "sha256_2_threads_seconds")
    copy = median_of(runs, "hash_copy_2_threads_seconds")
    copy_sync = median_of(runs, "hash_copy_sync_seconds")
    copy_fsync = median_of(runs, "hash_copy_fsync_2_threads_seconds")

    def versus(seconds: float | None) -> str:
        if seconds is None:
            return "crashed"
        return f"{seconds / copy:.1f}x hash+copy, {seconds / sha_2:.1f}x SHA-256"

    row.loopml = versus(first["loopml"])
    row.anchor = versus(first["dvc"])
    note = (
        "time of the first version divided by plain Python on the same files, cold: "
        f"SHA-256 on 2 threads {secs(sha_2)} ({mb_s(total, sha_2)}), on 1 thread "
        f"{secs(sha_1)} ({mb_s(total, sha_1)}); one pass that hashes each file and copies it "
        f"into a content-addressed folder, 2 threads, no fsync {secs(copy)} "
        f"({mb_s(total, copy)}; an os.sync() after it took {secs(copy_sync)}), the same with "
        f"an fsync of each copy {secs(copy_fsync)} ({mb_s(total, copy_fsync)})"
    )
    if "loopml" in ok:
        hashing = median_of(ok["loopml"], "hash_phase_seconds")
        note += (
            f". Of loopml's first version, hashing every file took {secs(hashing)}; the rest "
            "(storing: each file read and hashed again, copied, fsynced; the commit) "
            f"{secs(first['loopml'] - hashing) if first['loopml'] else '—'}"
        )
    row.note = note
    return row


def _faster(first: float | None, again: float | None, times: float) -> bool:
    """Whether ``again`` took at most ``1/times`` of ``first`` (False if either crashed)."""
    return first is not None and again is not None and again * times <= first


def _ratio(anchor: float | None, loopml: float | None) -> float | None:
    if anchor is None or loopml is None or loopml <= 0:
        return None
    return anchor / loopml


def mb_s(total: int, seconds: float) -> str:
    return f"{total / seconds / 1e6:,.0f} MB/s"


# -- versions --------------------------------------------------------------------------

_VERSIONS_CODE = """
import importlib.metadata as m, json, platform
print(json.dumps({{"version": m.version({name!r}), "python": platform.python_version()}}))
"""


def collect_versions() -> dict[str, Any]:
    loopml = json.loads(python_one_liner(LOOPML_PYTHON, _VERSIONS_CODE.format(name="loopml")))
    dvc = json.loads(python_one_liner(DVC_PYTHON, _VERSIONS_CODE.format(name="dvc")))
    dvc_data = json.loads(python_one_liner(DVC_PYTHON, _VERSIONS_CODE.format(name="dvc-data")))
    return {
        "loopml": loopml["version"],
        "dvc": dvc["version"],
        "dvc_data": dvc_data["version"],
        "loopml_python": loopml["python"],
        "dvc_python": dvc["python"],
        "summary": (
            f"loopml {loopml['version']} (Python {loopml['python']}); DVC {dvc['version']} "
            f"(dvc-data {dvc_data['version']}, Python {dvc['python']})"
        ),
    }


if __name__ == "__main__":
    script_main("dataset versioning", "DVC", run)
