"""The DVC side of the dataset-versioning benchmark; runs in ``bench/.venv-dvc``.

    bench/.venv-dvc/bin/python bench/_dvc_worker.py version '{"data": "data"}' /tmp/fresh-dir

The mirror image of ``_loopml_data_worker.py version``. The fresh directory holds the
repository ``repo/`` with the folder to version at ``repo/data``; this worker makes it a
fresh ``git init`` + ``dvc init`` repository (untimed), with DVC's state database (its
"site cache") and its global and system config folders inside the fresh directory, so
nothing is shared with another run. Then it runs three DVC commands through DVC's own
command-line entry point, in this process (``dvc.cli.main``: the command as typed, less
starting the interpreter and importing DVC), timing each on its own:

1. ``first``: ``dvc add data``;
2. ``again``: ``dvc add data`` on the unchanged folder (must give the same ``.dvc`` file);
3. ``changed``: ``dvc status`` (must say nothing changed).

``cache_type`` sets ``cache.type`` (``None`` leaves DVC's default, ``reflink,copy``).
The folder's pages are dropped from the OS file cache first, as on the loopml side.

This file must run with DVC's interpreter only: it imports nothing from loopml. Prints one
``BENCH_RESULT {json}`` line on stdout.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _worker import evict, list_files, run, timed


def version(directory: Path, data: str, cache_type: str | None = None) -> dict[str, Any]:
    repo = directory / "repo"
    for name, folder in (
        ("DVC_SITE_CACHE_DIR", "dvc-site"),
        ("DVC_GLOBAL_CONFIG_DIR", "dvc-global"),
        ("DVC_SYSTEM_CONFIG_DIR", "dvc-system"),
    ):
        (directory / folder).mkdir()
        os.environ[name] = str(directory / folder)
    os.environ["DVC_NO_ANALYTICS"] = "1"
    os.environ["DVC_STUDIO_OFFLINE"] = "1"
    os.chdir(repo)
    subprocess.run(["git", "init", "--quiet"], check=True)

    from dvc.cli import main as dvc

    _run(dvc, "init", "--quiet")
    _run(dvc, "config", "core.analytics", "false")
    _run(dvc, "config", "core.check_update", "false")
    if cache_type is not None:
        _run(dvc, "config", "cache.type", cache_type)
    files = list_files(repo / data)
    evicted = evict(files)

    first_seconds = timed(lambda: _run(dvc, "add", "--quiet", data))
    first_out = _out(repo / f"{data}.dvc")
    sync_seconds = timed(os.sync)
    again_seconds = timed(lambda: _run(dvc, "add", "--quiet", data))
    again_out = _out(repo / f"{data}.dvc")
    # `dvc status --quiet` exits 0 only when everything is up to date.
    check_seconds = timed(lambda: _run(dvc, "status", "--quiet"))

    _expect(first_out.get("nfiles") == len(files), f"first dvc add: {first_out}")
    _expect(again_out == first_out, f"re-add changed the .dvc file: {again_out}")
    return {
        "files": first_out["nfiles"],
        "bytes": first_out["size"],
        "first_seconds": first_seconds,
        "sync_seconds": sync_seconds,
        "again_seconds": again_seconds,
        "check_seconds": check_seconds,
        "cache_type": cache_type or "default",
        "evicted": evicted,
        "digest": first_out["md5"],
    }


def _run(dvc: Callable[[list[str]], int], *argv: str) -> None:
    code = dvc(list(argv))
    if code != 0:
        raise SystemExit(f"dvc {' '.join(argv)} exited {code}")


def _out(dvc_file: Path) -> dict[str, Any]:
    """The one output of a ``.dvc`` file (md5 of the ``.dir`` manifest, size, nfiles)."""
    from dvc.utils.serialize import load_yaml

    [out] = load_yaml(str(dvc_file))["outs"]
    return dict(out)


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"unexpected result: {what}")


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {"version": version}

if __name__ == "__main__":
    run(WORKLOADS)
