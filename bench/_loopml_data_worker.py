"""The loopml side of the dataset-versioning benchmark, and the raw-hashing reference.

    .venv/bin/python bench/_loopml_data_worker.py version '{"data": "data"}' /tmp/fresh-dir
    .venv/bin/python bench/_loopml_data_worker.py raw '{"data": "/tmp/master"}' /tmp/fresh-dir

``version`` is the mirror image of ``_dvc_worker.py``: in a fresh store
(``Settings.load(home=directory/"home")``) it versions the folder ``directory/data``
three times over, timing each step on its own, as a user would run three commands:

1. ``first``: ``DatasetClient.log`` of the folder (nothing known yet);
2. ``again``: ``log`` of the same, unchanged folder (must return version 1);
3. ``changed``: ``DatasetClient.changed`` on it (must report no change).

Each step opens its own client (as a separate command would); creating the empty store
is done before, untimed. The folder's pages are dropped from the OS file cache first
(``posix_fadvise(DONTNEED)``), so the first step reads from disk, like DVC's.

``raw`` times plain ``hashlib`` over the same files, the "hashing speed" reference: SHA-256
on one thread and on two, and a single pass that hashes and copies every file into a
content-addressed folder (two threads), without and with an ``fsync`` of each copy, each
from a cold file cache. It imports nothing from loopml.

Prints one ``BENCH_RESULT {json}`` line on stdout.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _worker import evict, list_files, posix_fadvise_works, run, timed

CHUNK = 1 << 20
NAME = "bench-folder"


# -- loopml ----------------------------------------------------------------------------


def version(directory: Path, data: str) -> dict[str, Any]:
    from loopml.config import Settings
    from loopml.data.versions import DatasetClient

    folder = directory / data
    home = directory / "home"
    files = list_files(folder)
    DatasetClient(Settings.load(home=home))  # the empty store: not timed
    evicted = evict(files)

    phase: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        # Bytes hashed come first, then bytes stored: half-way is the end of hashing.
        if "hashed" not in phase and total and done * 2 >= total:
            phase["hashed"] = time.perf_counter()

    first_start = time.perf_counter()
    first = DatasetClient(Settings.load(home=home)).log(NAME, folder, progress=progress)
    first_seconds = time.perf_counter() - first_start
    sync_seconds = timed(os.sync)

    start = time.perf_counter()
    again = DatasetClient(Settings.load(home=home)).log(NAME, folder)
    again_seconds = time.perf_counter() - start

    start = time.perf_counter()
    report = DatasetClient(Settings.load(home=home)).changed(NAME, folder)
    check_seconds = time.perf_counter() - start

    _expect(first.version == 1 and first.file_count == len(files), f"first version: {first}")
    _expect(again.version == 1 and again.digest == first.digest, f"re-version: {again}")
    _expect(not report.changed and report.hashed_files == 0, f"changed(): {report}")
    return {
        "files": first.file_count,
        "bytes": first.byte_size,
        "first_seconds": first_seconds,
        "hash_phase_seconds": phase.get("hashed", first_start) - first_start,
        "sync_seconds": sync_seconds,
        "again_seconds": again_seconds,
        "check_seconds": check_seconds,
        "evicted": evicted,
        "digest": first.digest,
    }


# -- the raw reference -----------------------------------------------------------------


def raw(directory: Path, data: str) -> dict[str, Any]:
    files = list_files(Path(data))
    size = sum(path.stat().st_size for path in files)
    out, out_fsync = directory / "copies", directory / "copies-fsync"
    for folder in (out, out_fsync):
        for prefix in range(256):
            (folder / f"{prefix:02x}").mkdir(parents=True)

    def cold(work: Callable[[Path], object], threads: int) -> float:
        os.sync()
        evict(files)
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(work, files):
                pass
        return time.perf_counter() - start

    sha_1 = cold(sha256_file, 1)
    sha_2 = cold(sha256_file, 2)
    copy_2 = cold(lambda path: hash_and_copy(path, out), 2)
    copy_sync = timed(os.sync)
    copy_fsync = cold(lambda path: hash_and_copy(path, out_fsync, fsync=True), 2)
    return {
        "files": len(files),
        "bytes": size,
        "sha256_1_thread_seconds": sha_1,
        "sha256_2_threads_seconds": sha_2,
        "hash_copy_2_threads_seconds": copy_2,
        "hash_copy_sync_seconds": copy_sync,
        "hash_copy_fsync_2_threads_seconds": copy_fsync,
        "evicted": posix_fadvise_works(),
    }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as stream:
        while count := stream.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()


def hash_and_copy(path: Path, out: Path, *, fsync: bool = False) -> str:
    """One read of ``path``: hash it and write it to ``out/<digest>`` (via a temp name).

    With ``fsync``, the copy is flushed to disk before it is renamed into place.
    """
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    temp = out / f"tmp-{os.getpid()}-{path.parent.name}-{path.name}"
    with open(path, "rb", buffering=0) as stream, open(temp, "wb", buffering=0) as copy:
        while count := stream.readinto(buffer):
            digest.update(view[:count])
            copy.write(view[:count])
        if fsync:
            os.fsync(copy.fileno())
    name = digest.hexdigest()
    os.replace(temp, out / name[:2] / name[2:])
    return name


# -- shared ----------------------------------------------------------------------------


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"unexpected result: {what}")


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {"version": version, "raw": raw}

if __name__ == "__main__":
    run(WORKLOADS)
