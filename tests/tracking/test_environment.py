"""Every run records git state, Python and packages, host and command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _procs import run_python

from loopml.config import Settings
from loopml.store.schema import environments, runs
from loopml.tracking import TrackingClient


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_run_records_git_commit_dirty_diff_packages_and_command(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(
        repo,
        "-c",
        "user.email=a@b",
        "-c",
        "user.name=a",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "init",
    )
    (repo / "train.py").write_text(
        "import loopml\nwith loopml.start_run() as run:\n    print(run.id)\n"
    )
    _git(repo, "add", "train.py")
    home = tmp_path / "home"
    code = "import runpy, sys; sys.argv=['train.py', '--lr', '0.1']; runpy.run_path('train.py')"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LOOPML_HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip()
    client = TrackingClient(Settings.load(home=home))
    try:
        run = client.get_run(run_id)
        assert run.tags["loopml.source.command"] == "train.py --lr 0.1"
        assert run.tags["loopml.git.dirty"] == "true"
        assert len(run.tags["loopml.git.commit"]) == 40
        with client.store.read() as conn:
            digest = conn.execute(
                runs.select()
                .with_only_columns(runs.c.environment_digest)
                .where(runs.c.id == run_id)
            ).scalar_one()
            body = conn.execute(
                environments.select()
                .with_only_columns(environments.c.body)
                .where(environments.c.digest == digest)
            ).scalar_one()
    finally:
        client.close()
    assert "+import loopml" in body["git"]["diff"]
    assert body["packages"]["sqlalchemy"]
    assert body["python"]["version"].startswith("3.")


def test_identical_environments_are_stored_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = "import loopml\nfor _ in range(3):\n    loopml.start_run().end()\n"
    returncode, _, err = run_python(code, home)
    assert returncode == 0, err
    client = TrackingClient(Settings.load(home=home))
    try:
        with client.store.read() as conn:
            count = len(conn.execute(environments.select()).all())
    finally:
        client.close()
    assert count == 1
