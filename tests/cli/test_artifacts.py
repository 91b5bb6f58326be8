"""``loopml artifacts …`` and ``loopml gc`` over a real local artifact store."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import pytest

from loopml.artifacts._atomic import TEMP_PREFIX
from loopml.tracking import TrackingClient


@pytest.fixture
def logged(runs, client: TrackingClient, tmp_path: Path) -> str:
    """Run ``rf`` with ``model/weights.bin``, ``model/meta/card.md`` and ``notes.txt``."""
    source = tmp_path / "model"
    (source / "meta").mkdir(parents=True)
    (source / "weights.bin").write_bytes(bytes(range(256)) * 4)
    (source / "meta" / "card.md").write_text("# rf\n")
    client.log_artifacts(runs.rf, source, "model")
    client.run_artifacts.log_bytes(runs.rf, b"remember the seed", "notes.txt")
    return str(runs.rf)


def test_list_one_level_as_json(cli, logged: str) -> None:
    entries = cli.json("artifacts", "list", logged)
    assert [(e["path"], e["is_dir"]) for e in entries] == [("model", True), ("notes.txt", False)]
    notes = entries[1]
    assert notes["uri"] == f"runs:/{logged}/notes.txt"
    assert notes["size"] == 17
    assert notes["digest"] == hashlib.sha256(b"remember the seed").hexdigest()


def test_list_a_folder_by_uri_or_argument(cli, logged: str) -> None:
    by_uri = cli.json("artifacts", "list", f"runs:/{logged}/model")
    by_argument = cli.json("artifacts", "list", logged, "model")
    assert by_uri == by_argument
    assert [e["path"] for e in by_uri] == ["model/meta", "model/weights.bin"]
    every = cli.json("artifacts", "list", logged, "model", "--recursive")
    assert [e["path"] for e in every] == ["model/meta/card.md", "model/weights.bin"]


def test_folders_differing_only_in_case_stay_apart(
    cli, logged: str, client: TrackingClient
) -> None:
    # SQLite's LIKE ignores case; listing model/ must not take in Model/.
    client.run_artifacts.log_bytes(logged, b"other", "Model/other.bin")
    every = cli.json("artifacts", "list", logged, "model", "--recursive")
    assert [e["path"] for e in every] == ["model/meta/card.md", "model/weights.bin"]
    assert [e["path"] for e in cli.json("artifacts", "list", logged, "Model")] == [
        "Model/other.bin"
    ]


def test_list_table(cli, logged: str) -> None:
    result = cli.run("artifacts", "list", logged, "-r")
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.split()}
    assert rows["model/weights.bin"][1:3] == ["1.0", "KiB"]
    assert rows["notes.txt"][1:3] == ["17", "B"]
    assert rows["notes.txt"][3] == hashlib.sha256(b"remember the seed").hexdigest()


def test_list_errors(cli, logged: str) -> None:
    missing = cli.run("artifacts", "list", logged, "nope")
    assert missing.exit_code == 1
    assert "not found" in missing.stderr
    wrong_scheme = cli.run("artifacts", "list", "models:/churn/1")
    assert wrong_scheme.exit_code == 2
    assert "runs:/" in wrong_scheme.stderr


def test_get_a_file_writes_its_bytes(cli, logged: str, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    result = cli.run("artifacts", "get", f"runs:/{logged}/model/weights.bin", "--dest", str(dest))
    assert result.exit_code == 0, result.stderr
    target = dest / "weights.bin"
    assert result.stdout == f"{target}\n"
    assert target.read_bytes() == bytes(range(256)) * 4


def test_get_a_folder_as_json(cli, logged: str, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    got = cli.json("artifacts", "get", f"runs:/{logged}/model", "--dest", str(dest))
    assert got == {"uri": f"runs:/{logged}/model", "path": str(dest / "model")}
    assert (dest / "model" / "meta" / "card.md").read_text() == "# rf\n"
    assert (dest / "model" / "weights.bin").stat().st_size == 1024


def test_get_unknown_path_fails(cli, logged: str, tmp_path: Path) -> None:
    result = cli.run("artifacts", "get", f"runs:/{logged}/nope.txt", "--dest", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: artifact ")
    bad = cli.run("artifacts", "get", "runs:/", "--dest", str(tmp_path))
    assert bad.exit_code == 2


@pytest.mark.parametrize("uri", ["runs:", "runs:abc"])
def test_get_a_malformed_uri_says_so(cli, uri: str, tmp_path: Path) -> None:
    result = cli.run("artifacts", "get", uri, "--dest", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: malformed URI '{uri}'; expected runs:/<run_id>")


def _stored_digests(home: Path) -> set[str]:
    """Digests of the blobs on disk (``<root>/blobs/ab/cdef…`` holds ``abcdef…``)."""
    return {p.parent.name + p.name for p in (home / "artifacts").rglob("*") if p.is_file()}


def test_gc_frees_a_blob_only_after_its_run_is_deleted(
    cli, runs, client: TrackingClient, home: Path
) -> None:
    only_rf = client.run_artifacts.log_bytes(runs.rf, b"only in rf", "a.txt")
    client.run_artifacts.log_bytes(runs.rf, b"shared", "shared.txt")
    client.run_artifacts.log_bytes(runs.gbm, b"shared", "copy.txt")
    doomed = hashlib.sha256(b"only in rf").hexdigest()
    assert only_rf == "a.txt"

    report = cli.json("gc", "--grace-seconds", "0")
    assert (report["deleted"], report["kept"]) == (0, 2)

    cli.json("runs", "delete", runs.rf, "--yes")
    assert cli.json("gc")["deleted"] == 0  # the default grace period protects fresh blobs
    dry = cli.json("gc", "--grace-seconds", "0", "--dry-run")
    assert (dry["dry_run"], dry["deleted"], dry["digests"]) == (True, 1, [doomed])
    assert doomed in _stored_digests(home)

    report = cli.json("gc", "--grace-seconds", "0")
    assert (report["deleted"], report["freed_bytes"], report["digests"]) == (1, 10, [doomed])
    assert doomed not in _stored_digests(home)
    assert client.run_artifacts.read_bytes(runs.gbm, "copy.txt") == b"shared"


def test_gc_table_output(cli, runs) -> None:
    result = cli.run("gc", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "would delete 0 blob(s) and 0 temporary file(s), freeing 0 B; kept 0"
    )
    assert cli.run("gc", "--grace-seconds", "-1").exit_code == 2


# -- downloads stay inside --dest (issue 10, item 2) -----------------------------------


def _plant_row(home: Path, run_id: str, path: str, data: bytes) -> None:
    """Write an artifact_files row the API refuses to log (a path with '..')."""
    from sqlalchemy import create_engine

    from loopml.artifacts import ArtifactStore
    from loopml.config import Settings
    from loopml.store.schema import artifact_files

    settings = Settings.load(home=home)
    stored = ArtifactStore.from_url(settings.artifacts_url).put_bytes(data)
    engine = create_engine(settings.db_url)
    with engine.begin() as conn:
        conn.execute(
            artifact_files.insert().values(
                owner_kind="run",
                owner_id=run_id,
                path=path,
                digest=stored.digest,
                size=stored.size,
                created_at=0,
            )
        )
    engine.dispose()


@pytest.mark.parametrize("uri_path", ["", "/model"])
def test_get_refuses_a_stored_path_that_climbs_out_of_dest(
    cli, logged: str, home: Path, tmp_path: Path, uri_path: str
) -> None:
    _plant_row(home, logged, "model/../../escaped.txt", b"pwned")
    dest = tmp_path / "deep" / "out"
    result = cli.run("artifacts", "get", f"runs:/{logged}{uri_path}", "--dest", str(dest))
    assert result.exit_code == 2, result.stdout
    assert "has a '..' component" in result.stderr
    assert not list(tmp_path.rglob("escaped.txt"))
    assert [p for p in dest.rglob("*") if p.is_file()] == []  # refused before any write


@pytest.mark.parametrize(
    ("uri_path", "link"), [("", "model"), ("/model", "model"), ("/model/meta", "meta")]
)
def test_get_refuses_to_write_through_a_symlink_inside_dest(
    cli, logged: str, tmp_path: Path, uri_path: str, link: str
) -> None:
    dest, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest.mkdir()
    (dest / link).symlink_to(elsewhere, target_is_directory=True)
    result = cli.run("artifacts", "get", f"runs:/{logged}{uri_path}", "--dest", str(dest))
    assert result.exit_code == 2, result.stdout
    assert f"{dest / link} is a symbolic link inside {dest}" in result.stderr
    assert list(elsewhere.iterdir()) == []


def _leftover(folder: Path, content: bytes, age_s: float) -> Path:
    """A temporary blob file as a killed write leaves it (``atomic_write``'s own naming)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
    with os.fdopen(fd, "wb") as stream:
        stream.write(content)
    then = time.time() - age_s
    os.utime(name, (then, then))
    return Path(name)


def test_gc_removes_temporary_files_of_killed_writes_after_the_grace_period(
    cli, runs, client: TrackingClient, home: Path
) -> None:
    client.run_artifacts.log_bytes(runs.rf, b"kept", "a.txt")
    blobs = home / "artifacts" / "blobs"
    fan_out = next(p for p in blobs.iterdir() if p.is_dir())
    old = _leftover(fan_out, b"x" * 100, age_s=7200)
    other_old = _leftover(blobs, b"z" * 5, age_s=7200)  # beside the fan-out folders
    young = _leftover(fan_out, b"y" * 10, age_s=60)  # maybe a write still in flight

    dry = cli.json("gc", "--dry-run")
    assert (dry["temp_files"], dry["freed_bytes"]) == (2, 105)
    assert old.exists()
    assert other_old.exists()

    result = cli.run("gc")
    assert result.exit_code == 0, result.stderr
    assert "2 temporary file(s)" in result.stdout
    assert not old.exists()
    assert not other_old.exists()
    assert young.exists()
    assert client.run_artifacts.read_bytes(runs.rf, "a.txt") == b"kept"

    report = cli.json("gc", "--grace-seconds", "0")
    assert (report["temp_files"], report["freed_bytes"], report["deleted"]) == (1, 10, 0)
    assert not young.exists()
