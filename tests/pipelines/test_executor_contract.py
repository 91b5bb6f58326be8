"""One contract, every executor: local, a process pool, a Dask cluster and Ray.

Each test runs once per executor (``IMPLEMENTATIONS``, indirect, module-scoped so the
tests are grouped per executor and each cluster starts once). The Dask cluster runs in
a child process and is reached as a remote one, ``dask://127.0.0.1:<port>``; Ray runs
where loopback is the only network interface (``make test`` as root: see ``ray_url``).
Steps live in ``_executor_steps`` so workers can import them.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _executor_steps as steps
import numpy as np
import pandas as pd
import pytest

from loopml.config import Settings
from loopml.errors import InvalidInputError, MissingDependencyError
from loopml.pipelines import StepStatus
from loopml.pipelines._entrypoints import load_pipeline
from loopml.pipelines.executors import Executor, from_url
from loopml.tracking import TrackingClient

pytestmark = pytest.mark.timeout(120)

IMPLEMENTATIONS = ["local", "process", "dask", "ray"]
HERE = Path(__file__).parent
START_TIMEOUT_S = 60

DASK_CLUSTER = """
import sys
from distributed import LocalCluster
cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
    dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
)
print(cluster.scheduler_address, flush=True)
sys.stdin.read()  # until the test session closes our stdin
cluster.close()
"""


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first line ``proc`` prints, waiting at most ``timeout`` seconds."""
    stdout = proc.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0].strip() if lines else ""


@pytest.fixture(scope="module")
def dask_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Dask cluster (scheduler + 2 worker processes) on 127.0.0.1, in a child process."""
    pytest.importorskip("distributed")
    log = tmp_path_factory.mktemp("dask") / "cluster.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(DASK_CLUSTER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            text=True,
        )
    try:
        address = _first_line(proc, START_TIMEOUT_S)
        assert address.startswith("tcp://127.0.0.1:"), (
            f"the Dask cluster did not start:\n{log.read_text()}"
        )
        yield "dask://" + address.removeprefix("tcp://")
    finally:
        try:
            proc.communicate(timeout=30)  # closes stdin: the cluster shuts down
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _interfaces_beyond_loopback() -> list[str]:
    return [name for _, name in socket.if_nameindex() if name != "lo"]


@pytest.fixture(scope="module")
def ray_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Ray of 2 CPUs for the module; executors given ``ray`` share it.

    Ray's processes listen on every interface, so it starts only where loopback is the
    only one: `make test` runs as root inside a network namespace holding only ``lo``
    (scripts/loopback-only.sh). Its session files go to a folder of this test session.
    """
    pytest.importorskip("ray")
    others = _interfaces_beyond_loopback()
    if others and os.environ.get("LOOPML_TEST_RAY_ON_ANY_INTERFACE") != "1":
        pytest.skip(
            f"Ray would listen on {', '.join(others)} too: run the tests through "
            "scripts/loopback-only.sh as root (make test does), or set "
            "LOOPML_TEST_RAY_ON_ANY_INTERFACE=1 to run them anyway"
        )
    from loopml.pipelines.executors.ray import RayExecutor

    # Ray workers see the driver's working directory, not its sys.path.
    # (The caller's own PYTHONPATH is kept, so a source tree on it is the one they run.)
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    runtime_env = {"env_vars": {"PYTHONPATH": path}}
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray's socket paths are limited
    owner = RayExecutor(
        num_cpus=2, runtime_env=runtime_env, log_to_driver=False, _temp_dir=str(temp_dir)
    )
    try:
        yield "ray"
    finally:
        owner.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def executor_url(request: pytest.FixtureRequest) -> str:
    """The URL of the executor under test (``IMPLEMENTATIONS``)."""
    kind = request.param
    if kind == "dask":
        return str(request.getfixturevalue("dask_url"))
    if kind == "ray":
        return str(request.getfixturevalue("ray_url"))
    return {"local": "local", "process": "process://2"}[kind]


contract = pytest.mark.parametrize("executor_url", IMPLEMENTATIONS, indirect=True, scope="module")


# -- the Executor protocol -----------------------------------------------------------


@contract
def test_submit_returns_futures_of_results(executor_url: str) -> None:
    with from_url(executor_url) as executor:
        assert isinstance(executor, Executor)
        futures = [executor.submit(steps.double, i) for i in range(5)]
        assert [f.result(timeout=60) for f in futures] == [0, 2, 4, 6, 8]


@contract
def test_submit_returns_futures_of_exceptions(executor_url: str) -> None:
    with from_url(executor_url) as executor:
        future = executor.submit(steps.fail_with, "no good")
        with pytest.raises(ValueError, match="no good"):
            future.result(timeout=60)
        # The executor still works after a task failed.
        assert executor.submit(steps.double, 21).result(timeout=60) == 42


@contract
def test_parallelism_url_and_idempotent_close(executor_url: str) -> None:
    executor = from_url(executor_url)
    assert executor.parallelism >= 1
    with from_url(executor.url) as again:  # the URL stored with a run leads back to it
        assert type(again) is type(executor)
    executor.submit(steps.double, 1).result(timeout=60)
    executor.close()
    executor.close()


# -- pipelines through the executor ---------------------------------------------------


def _values(run: Any) -> dict[str, Any]:
    return {node: run.load(node) for node, info in run.steps.items() if info.outputs}


def _assert_same(value: Any, expected: Any) -> None:
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(value, expected)
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(value, expected)
    else:
        assert value == expected


@contract
def test_outputs_equal_the_local_executors(executor_url: str, sqlite_settings: Settings) -> None:
    local = steps.showcase.run({"n": 4}, executor="local", cache=False, settings=sqlite_settings)
    remote = steps.showcase.run(
        {"n": 4}, executor=executor_url, cache=False, settings=sqlite_settings
    )
    assert remote.status == "finished"
    with from_url(executor_url) as executor:
        assert remote.info.executor == executor.url
    assert set(remote.steps) == set(local.steps)
    for node, info in remote.steps.items():
        assert info.status is StepStatus.COMPLETED, (node, info.error)
        if node != "square":  # the map's template runs nothing itself
            assert info.run_id != local.steps[node].run_id
        assert {k: r.digest for k, r in info.outputs.items()} == {
            k: r.digest for k, r in local.steps[node].outputs.items()
        }, node
    expected = _values(local)
    for node, value in _values(remote).items():
        _assert_same(value, expected[node])


@contract
def test_dataframes_and_arrays_pass_between_steps(
    executor_url: str, sqlite_settings: Settings
) -> None:
    run = steps.showcase.run({"n": 3}, executor=executor_url, settings=sqlite_settings)
    frame_ref = run.steps["make_frame"].outputs["output"]
    matrix_ref = run.steps["make_matrix"].outputs["output"]
    assert not frame_ref.is_inline
    assert not matrix_ref.is_inline
    assert frame_ref.type_name.endswith("DataFrame")
    assert run.load("describe_frame") == {"rows": 3, "y_sum": 3.0, "names": ["a", "b", "c"]}
    assert run.load("column_sums") == [9.0, 12.0, 15.0]
    pd.testing.assert_frame_equal(
        run.load("make_frame"),
        pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 1.0, 1.5], "name": ["a", "b", "c"]}),
    )


@contract
def test_a_dynamic_map_fans_out_and_gathers(executor_url: str, sqlite_settings: Settings) -> None:
    run = steps.showcase.run({"n": 5}, executor=executor_url, settings=sqlite_settings)
    children = [f"square[{i}]" for i in range(5)]
    assert [run.load(c) for c in children] == [1, 4, 9, 16, 25]
    assert run.steps["square"].status is StepStatus.COMPLETED  # the template
    assert run.load("total") == 55
    assert len({run.steps[c].run_id for c in children}) == 5


@contract
def test_metrics_logged_in_a_step_land_on_its_run(
    executor_url: str, sqlite_settings: Settings
) -> None:
    run = steps.showcase.run({"n": 3}, executor=executor_url, settings=sqlite_settings)
    client = TrackingClient(sqlite_settings)
    try:
        history = client.get_metric_history(run.steps["scored"].run_id, "score")
        assert [(m.step, m.value) for m in history] == [(0, 0.1), (1, 0.2), (2, 0.3)]
        assert client.get_metric_history(run.id, "score") == []  # not on the pipeline run
    finally:
        client.close()


@contract
def test_metrics_logged_in_a_step_with_a_timeout_land_on_its_run(
    executor_url: str, sqlite_settings: Settings
) -> None:
    # Off the main thread (Dask) a timeout runs the step in a helper thread, which must
    # see the step's run too.
    run = steps.timed_scores.run(
        {"n": 2}, executor=executor_url, settings=sqlite_settings, raise_on_failure=False
    )
    info = run.steps["scored_in_time"]
    assert info.status is StepStatus.COMPLETED, info.error
    client = TrackingClient(sqlite_settings)
    try:
        history = client.get_metric_history(info.run_id, "score")
        assert [(m.step, m.value) for m in history] == [(0, 0.1), (1, 0.2)]
    finally:
        client.close()


@contract
def test_a_failing_step_stops_its_dependents_not_other_branches(
    executor_url: str, sqlite_settings: Settings
) -> None:
    run = steps.half_broken.run(
        {"n": 3}, executor=executor_url, settings=sqlite_settings, raise_on_failure=False
    )
    assert run.status == "failed"
    failed = run.steps["explode"]
    assert failed.status is StepStatus.FAILED
    # The error names the step's own file and line (the user's code, not loopml's).
    assert re.fullmatch(
        r"ValueError: explode refuses 3 values \(at .*_executor_steps\.py:\d+, in explode\)",
        failed.error or "",
    ), failed.error
    assert failed.traceback is not None
    assert "_executor_steps.py" in failed.traceback
    assert "in explode" in failed.traceback
    dependent = run.steps["after_explode"]
    assert dependent.status is StepStatus.SKIPPED
    assert dependent.reason is not None
    assert "upstream step 'explode' failed" in dependent.reason
    assert run.steps["total"].status is StepStatus.COMPLETED
    assert run.load("total") == 6
    assert run.info.failed_steps == ["explode"]


@contract
def test_a_step_is_retried_after_a_failed_attempt(
    executor_url: str, sqlite_settings: Settings, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    run = steps.retried.run({"marks": str(marks)}, executor=executor_url, settings=sqlite_settings)
    info = run.steps["flaky"]
    assert info.status is StepStatus.COMPLETED
    assert info.attempts == 2
    assert steps.executions(marks, "flaky") == 2
    assert run.load("flaky") == "second attempt worked"


@contract
def test_a_step_past_its_timeout_fails(executor_url: str, sqlite_settings: Settings) -> None:
    run = steps.overslept.run(
        {"seconds": 3.0}, executor=executor_url, settings=sqlite_settings, raise_on_failure=False
    )
    info = run.steps["sleepy"]
    assert info.status is StepStatus.FAILED
    assert info.error == "StepTimeoutError: step 'sleepy' ran longer than its timeout of 0.5s"


@contract
def test_a_second_run_is_fully_cached(
    executor_url: str, sqlite_settings: Settings, tmp_path: Path
) -> None:
    marks = str(tmp_path / "marks")
    first = steps.showcase.run(
        {"n": 3, "marks": marks}, executor=executor_url, settings=sqlite_settings
    )
    assert {i.status for i in first.steps.values()} == {StepStatus.COMPLETED}
    second = steps.showcase.run(
        {"n": 3, "marks": marks}, executor=executor_url, settings=sqlite_settings
    )
    assert set(second.steps) == set(first.steps)
    for node, info in second.steps.items():
        if node == "square":  # the map's template only gathers its children
            continue
        assert info.status is StepStatus.CACHED, node
        assert info.cached_from == first.steps[node].run_id
        assert info.outputs == first.steps[node].outputs
    assert steps.executions(marks, "numbers") == 1
    assert second.load("total") == 14


PIPELINE_FILE = """
import loopml

@loopml.step
def shout(word: str) -> str:
    return word.upper() + "!"

@loopml.pipeline
def from_file(word: str = "hey") -> None:
    shout(word)
"""


@contract
def test_a_pipeline_loaded_from_a_file_path_runs(
    executor_url: str, sqlite_settings: Settings, tmp_path: Path
) -> None:
    # `loopml pipeline run flow.py:name` and resume load the file as a module workers
    # cannot import: its functions must travel by value.
    path = tmp_path / "flow.py"
    path.write_text(PIPELINE_FILE)
    target = load_pipeline(f"{path}:from_file")
    run = target.run({"word": "hey"}, executor=executor_url, settings=sqlite_settings)
    assert run.load("shout") == "HEY!"


# -- backend-specific: what only Dask or Ray have --------------------------------------


def test_dask_without_an_address_owns_a_local_cluster() -> None:
    pytest.importorskip("distributed")
    from loopml.pipelines.executors.dask import DaskExecutor

    executor = from_url("dask://")
    assert isinstance(executor, DaskExecutor)
    try:
        assert executor.url == "dask://"
        assert executor.parallelism == 2
        assert executor.submit(steps.double, 4).result(timeout=60) == 8
    finally:
        executor.close()
        executor.close()


def test_dask_names_an_unreachable_scheduler() -> None:
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InvalidInputError, match=rf"could not reach the Dask scheduler.*:{port}"):
        from_url(f"dask://127.0.0.1:{port}", timeout=1)


@pytest.mark.parametrize(
    ("url", "module", "extra"), [("dask://", "distributed", "dask"), ("ray", "ray", "ray")]
)
def test_a_missing_extra_names_what_to_install(
    url: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import <module>` fail
    with pytest.raises(MissingDependencyError, match=rf"pip install 'loopml\[{extra}\]'"):
        from_url(url)
