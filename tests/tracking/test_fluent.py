"""The fluent API over the default client (embedded store under LOOPML_HOME)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import loopml
from loopml.errors import InvalidInputError, UnsafePathError
from loopml.tracking import RunStatus


@pytest.fixture(autouse=True)
def _fresh_store(tmp_path: Path) -> None:
    loopml.configure(home=str(tmp_path / "home"))


def test_start_run_context_sets_status_from_how_the_block_ends() -> None:
    with loopml.start_run(experiment="ctx") as ok:
        loopml.log_metric("acc", 0.5)
    with pytest.raises(ValueError, match="boom"), loopml.start_run(experiment="ctx") as bad:
        raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt), loopml.start_run(experiment="ctx") as stopped:
        raise KeyboardInterrupt
    assert loopml.get_run(ok.id).status is RunStatus.FINISHED
    assert loopml.get_run(bad.id).status is RunStatus.FAILED
    assert loopml.get_run(stopped.id).status is RunStatus.KILLED
    assert loopml.active_run() is None


def test_nested_runs_inherit_experiment_and_parent() -> None:
    with loopml.start_run(experiment="tune") as parent:
        for lr in (0.1, 0.01):
            with loopml.start_run(name=f"lr={lr}") as child:
                loopml.log_param("lr", lr)
                assert loopml.active_run() is child
        assert loopml.active_run() is parent
    children = loopml.search_runs("tune", filter=f"parent_run_id = '{parent.id}'")
    assert sorted(r.params["lr"] for r in children) == ["0.01", "0.1"]
    with loopml.start_run(), pytest.raises(InvalidInputError, match="still active"):
        loopml.start_run(nested=False)


def test_logging_without_a_run_says_how_to_start_one() -> None:
    with pytest.raises(InvalidInputError, match="no active run; wrap the code"):
        loopml.log_metric("acc", 1.0)


def test_log_text_dict_and_figure_round_trip(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with loopml.start_run() as run:
        loopml.log_text("hello", "notes/readme.txt")
        loopml.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        loopml.log_figure(fig, "plots/curve.png")
        with pytest.raises(InvalidInputError, match="log_figure takes"):
            loopml.log_figure(object(), "x.png")
    plt.close(fig)
    artifacts = run.client.run_artifacts
    assert artifacts.read_bytes(run.id, "notes/readme.txt") == b"hello"
    assert json.loads(artifacts.read_bytes(run.id, "config.json")) == {"a": 1, "b": [1, 2]}
    assert artifacts.read_bytes(run.id, "plots/curve.png").startswith(b"\x89PNG")
    assert [e.path for e in artifacts.list(run.id)] == ["config.json", "notes", "plots"]


def test_log_artifacts_of_a_folder_and_download_them(tmp_path: Path) -> None:
    src = tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.txt").write_text("B")
    with loopml.start_run() as run:
        assert loopml.log_artifacts(src, "outputs") == ["outputs/a.txt", "outputs/sub/b.txt"]
        assert loopml.log_artifact(src / "a.txt") == "a.txt"
    dest = tmp_path / "dest"
    dest.mkdir()
    got = run.client.run_artifacts.download(run.id, "outputs", dest)
    assert (got / "sub" / "b.txt").read_text() == "B"
    single = run.client.run_artifacts.download(run.id, "outputs/a.txt", dest)
    assert single.read_text() == "A"


@pytest.mark.parametrize("bad", ["../escape", "/etc/passwd", "a/../../b"])
def test_artifact_paths_cannot_escape_the_run(tmp_path: Path, bad: str) -> None:
    file = tmp_path / "f.txt"
    file.write_text("x")
    with loopml.start_run(), pytest.raises(UnsafePathError):
        loopml.log_artifact(file, bad)


def test_symlinks_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    target.write_text("secret")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "inner").symlink_to(target)
    with loopml.start_run():
        with pytest.raises(UnsafePathError, match="symlink"):
            loopml.log_artifact(link)
        with pytest.raises(UnsafePathError):
            loopml.log_artifacts(folder)


def test_search_runs_returns_typed_runs_and_frames() -> None:
    for acc, model in [(0.95, "rf"), (0.85, "lr"), (0.97, "rf")]:
        with loopml.start_run(experiment="grid"):
            loopml.log_params({"model": model})
            loopml.log_metric("acc", acc)
    best = loopml.search_runs(
        "grid", filter="metrics.acc > 0.9 and params.model = 'rf'", order_by=["metrics.acc desc"]
    )
    assert [r.metrics["acc"] for r in best] == [0.97, 0.95]
    frame = loopml.search_runs("grid", as_frame=True, order_by="metrics.acc")
    assert list(frame["metrics.acc"]) == [0.85, 0.95, 0.97]
    history = loopml.get_metric_history(best[0].id, "acc")
    assert [m.value for m in history] == [0.97]
