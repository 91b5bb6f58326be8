"""Several processes logging at once: one version per content, numbers without gaps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from loopml.config import Settings
from loopml.data.versions import DatasetClient

WORKERS = 4

# Each worker waits for the go file, so all of them log at the same moment.
PROGRAM = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.002)
    from loopml.data.versions import DatasetClient
    source = sys.argv[3]
    if source.startswith("table:"):
        import pandas as pd
        source = pd.DataFrame({"worker": [int(source[6:])]})
    v = DatasetClient().log(sys.argv[2], source)
    print(json.dumps({"id": v.id, "version": v.version, "digest": v.digest}))
    """
)


def run_together(settings: Settings, tmp_path: Path, name: str, sources: list[str]) -> list[dict]:
    go = tmp_path / "go"
    env = {
        **os.environ,
        "LOOPML_HOME": str(settings.home),
        "LOOPML_DB_URL": settings.db_url,
        "LOOPML_ARTIFACTS": settings.artifacts_url,
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROGRAM, str(go), name, source],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for source in sources
    ]
    time.sleep(0.5)  # let them start and import
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out))
    return results


def test_four_processes_logging_one_folder_make_one_version(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(50):
        (folder / f"f{i:02d}.bin").write_bytes(os.urandom(2000))
    DatasetClient(settings)  # migrate the store first, as `loopml init` would
    results = run_together(settings, tmp_path, "shared", [str(folder)] * WORKERS)
    assert len({r["id"] for r in results}) == 1
    assert {r["version"] for r in results} == {1}
    client = DatasetClient(settings)
    [version] = client.list_versions("shared")
    assert version.file_count == 50
    assert len(list(client.artifact_store.blob_store.iter_blobs())) == 50


def test_four_processes_logging_different_tables_number_them_1_to_4(
    settings: Settings, tmp_path: Path
) -> None:
    DatasetClient(settings)
    results = run_together(
        settings, tmp_path, "racy", [f"table:{worker}" for worker in range(WORKERS)]
    )
    assert sorted(r["version"] for r in results) == [1, 2, 3, 4]
    assert len({r["digest"] for r in results}) == WORKERS
    versions = DatasetClient(settings).list_versions("racy")
    assert [v.version for v in versions] == [1, 2, 3, 4]
