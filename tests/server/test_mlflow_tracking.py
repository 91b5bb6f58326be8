"""The real ``mlflow`` clients (2.x and 3.x) against a real ``loopml server``.

The clients live in their own virtualenvs, built by ``scripts/mlflow-clients.sh``; each
test runs a small script with a client's python and checks what it wrote through loopml's
own :class:`TrackingClient` and what it read back through ``mlflow``.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import textwrap
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.server.accounts import AccountService
from loopml.store import open_store
from loopml.tracking import TrackingClient

from ._support import ROOT, server_process

CLIENTS = ("mlflow3", "mlflow2")


@dataclass
class LiveServer:
    url: str
    port: int
    home: Path
    _client: TrackingClient | None = None

    def tracking(self) -> TrackingClient:
        """loopml's own client over the server's store (one, closed with the server)."""
        if self._client is None:
            self._client = TrackingClient(Settings.load(home=self.home), capture_env=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _serve(home: Path, *args: str) -> Iterator[LiveServer]:
    """``loopml server`` on a free loopback port over ``home``."""
    with server_process(home, *args) as url:
        server = LiveServer(url, int(urllib.parse.urlsplit(url).port or 0), home)
        try:
            yield server
        finally:
            server.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A token-free server over a fresh home."""
    yield from _serve(tmp_path_factory.mktemp("mlflow-home"))


def _client_python(name: str) -> Path:
    python = ROOT / ".venv-clients" / name / "bin" / "python"
    if not python.exists():
        pytest.skip(
            f"{python} does not exist: build the MLflow clients with scripts/mlflow-clients.sh"
        )
    return python


@pytest.fixture(params=CLIENTS)
def mlflow_python(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, _client_python(request.param)


def run_client(
    python: Path,
    live: LiveServer,
    script: str,
    tmp_path: Path,
    env_extra: dict[str, str] | None = None,
    **values: Any,
) -> Any:
    """Run ``script`` with the client's python; it prints one JSON line last, returned here."""
    prelude = textwrap.dedent(
        """
        import json, os, sys
        import mlflow
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
        ARGS = json.loads(sys.argv[1])
        def done(value):
            print(json.dumps(value))
        """
    )
    path = tmp_path / "client_script.py"
    path.write_text(prelude + textwrap.dedent(script))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPML_", "MLFLOW_"))}
    env.pop("PYTHONPATH", None)
    env.update(
        MLFLOW_TRACKING_URI=live.url,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        MLFLOW_DISABLE_TELEMETRY="true",  # nothing leaves the machine
        DO_NOT_TRACK="true",
    )
    env.update(env_extra or {})
    result = subprocess.run(
        [str(python), str(path), json.dumps(values)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- runs, params, metrics, tags, nested runs --------------------------------------------


def test_runs_written_by_mlflow_are_loopml_runs(
    live: LiveServer, mlflow_python: tuple[str, Path], tmp_path: Path
) -> None:
    name, python = mlflow_python
    got = run_client(
        python,
        live,
        """
        mlflow.set_experiment(ARGS["experiment"])
        with mlflow.start_run(run_name="parent") as parent:
            mlflow.log_params({"lr": 0.1, "depth": 5})
            for step in range(10):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.set_tag("team", "risk")
            with mlflow.start_run(run_name="child", nested=True) as child:
                mlflow.log_metric("acc", 0.93)
        client = MlflowClient()
        from mlflow.entities import Metric, Param, RunTag
        batch = client.create_run(parent.info.experiment_id, run_name="batch")
        client.log_batch(
            batch.info.run_id,
            metrics=[Metric("m", float(i), 1700000000000 + i, i) for i in range(5)],
            params=[Param("p", "x")],
            tags=[RunTag("t", "y")],
        )
        client.set_terminated(batch.info.run_id, "FAILED")
        client.set_tag(batch.info.run_id, "gone", "soon")
        client.delete_tag(batch.info.run_id, "gone")
        run = client.get_run(parent.info.run_id)
        children = client.search_runs(
            [parent.info.experiment_id],
            f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
        done({
            "parent": parent.info.run_id,
            "child": child.info.run_id,
            "batch": batch.info.run_id,
            "status": run.info.status,
            "params": run.data.params,
            "metrics": run.data.metrics,
            "tags": {k: v for k, v in run.data.tags.items() if k in ("team", "mlflow.runName")},
            "history": [
                (m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")
            ],
            "children": [r.info.run_id for r in children],
            "batch_history": [m.step for m in client.get_metric_history(batch.info.run_id, "m")],
        })
        """,
        tmp_path,
        experiment=f"mlflow-runs-{name}",
    )
    # What the mlflow client read back
    assert got["status"] == "FINISHED"
    assert got["params"] == {"lr": "0.1", "depth": "5"}
    assert got["metrics"] == {"loss": pytest.approx(0.1)}
    assert got["tags"] == {"team": "risk", "mlflow.runName": "parent"}
    assert got["history"] == [[s, pytest.approx(1.0 / (s + 1))] for s in range(10)]
    assert got["children"] == [got["child"]]
    assert got["batch_history"] == [0, 1, 2, 3, 4]
    # ... and through loopml's own client: ordinary runs
    tracking = live.tracking()
    parent = tracking.get_run(got["parent"])
    assert parent.name == "parent"
    assert str(parent.status) == "finished"
    assert parent.params == {"lr": "0.1", "depth": "5"}
    assert parent.tags["team"] == "risk"
    assert tracking.get_experiment(parent.experiment_id).name == f"mlflow-runs-{name}"
    assert len(tracking.get_metric_history(parent.id, "loss")) == 10
    child = tracking.get_run(got["child"])
    assert child.parent_run_id == parent.id
    assert child.metrics == {"acc": pytest.approx(0.93)}
    batch = tracking.get_run(got["batch"])
    assert (str(batch.status), batch.params, batch.tags.get("t")) == ("failed", {"p": "x"}, "y")
    assert "gone" not in batch.tags
    assert [m.timestamp for m in tracking.get_metric_history(batch.id, "m")] == [
        1700000000000 + i for i in range(5)
    ]


def test_search_runs_grammar_order_and_paging(
    live: LiveServer, mlflow_python: tuple[str, Path], tmp_path: Path
) -> None:
    name, python = mlflow_python
    got = run_client(
        python,
        live,
        """
        exp = mlflow.set_experiment(ARGS["experiment"])
        ids = []
        for i in range(6):
            with mlflow.start_run(run_name=f"r{i}") as run:
                mlflow.log_metric("acc", i / 10)
                mlflow.log_param("kind", "even" if i % 2 == 0 else "odd")
                ids.append(run.info.run_id)
        client = MlflowClient()
        e = [exp.experiment_id]
        def names(runs):
            return [r.info.run_name for r in runs]
        pages, token = [], None
        while True:
            page = client.search_runs(
                e, max_results=4, order_by=["metrics.acc ASC"], page_token=token
            )
            pages.append(names(page))
            token = page.token
            if not token:
                break
        client.delete_run(ids[0])
        deleted = names(client.search_runs(e, run_view_type=2))  # ViewType.DELETED_ONLY
        everything = len(client.search_runs(e, run_view_type=3))  # ViewType.ALL
        active = len(client.search_runs(e))
        client.restore_run(ids[0])
        done({
            "filtered": names(client.search_runs(
                e, "metrics.acc >= 0.2 and params.kind = 'even'", order_by=["metrics.acc DESC"])),
            "by_name": names(client.search_runs(e, "tags.mlflow.runName = 'r3'")),
            "attr_name": names(client.search_runs(
                e, "attributes.run_name LIKE 'r%' and metrics.acc < 0.15")),
            "status": len(client.search_runs(e, "attributes.status = 'FINISHED'")),
            "in": sorted(names(client.search_runs(
                e, f"attributes.run_id IN ('{ids[1]}', '{ids[2]}')"))),
            "by_name_order": names(
                client.search_runs(e, order_by=["attributes.run_name DESC"]))[:2],
            "pages": pages,
            "deleted": deleted,
            "all": everything,
            "active": active,
            "pandas": sorted(mlflow.search_runs(
                [exp.experiment_id], "params.kind = 'odd'")["tags.mlflow.runName"]),
        })
        """,
        tmp_path,
        experiment=f"mlflow-search-{name}",
    )
    assert got["filtered"] == ["r4", "r2"]
    assert got["by_name"] == ["r3"]
    assert got["attr_name"] == ["r1", "r0"]
    assert got["status"] == 6
    assert got["in"] == ["r1", "r2"]
    assert got["by_name_order"] == ["r5", "r4"]
    assert got["pages"] == [["r0", "r1", "r2", "r3"], ["r4", "r5"]]
    assert (got["deleted"], got["all"], got["active"]) == (["r0"], 6, 5)
    assert got["pandas"] == ["r1", "r3", "r5"]


def test_experiments_lifecycle_and_tags(
    live: LiveServer, mlflow_python: tuple[str, Path], tmp_path: Path
) -> None:
    name, python = mlflow_python
    got = run_client(
        python,
        live,
        """
        client = MlflowClient()
        eid = client.create_experiment(ARGS["experiment"], tags={"team": "risk"})
        client.set_experiment_tag(eid, "stage", "dev")
        client.rename_experiment(eid, ARGS["experiment"] + "-renamed")
        exp = client.get_experiment(eid)
        client.delete_experiment(eid)
        deleted = client.get_experiment(eid).lifecycle_stage
        listed = [e.name for e in client.search_experiments(filter_string="tags.team = 'risk'")]
        client.restore_experiment(eid)
        found = client.search_experiments(
            filter_string=f"name LIKE '{ARGS['experiment']}%'", order_by=["name ASC"])
        with mlflow.start_run() as default_run:  # MLflow's experiment "0": loopml's Default
            pass
        done({
            "id": eid,
            "name": exp.name,
            "tags": {k: v for k, v in exp.tags.items() if k in ("team", "stage")},
            "deleted": deleted,
            "listed_while_deleted": listed,
            "found": [e.name for e in found],
            "missing": client.get_experiment_by_name("no-such-experiment-" + ARGS["experiment"]),
            "default_run": default_run.info.run_id,
        })
        """,
        tmp_path,
        experiment=f"mlflow-exp-{name}",
    )
    assert got["name"] == f"mlflow-exp-{name}-renamed"
    assert got["tags"] == {"team": "risk", "stage": "dev"}
    assert got["deleted"] == "deleted"
    assert f"mlflow-exp-{name}-renamed" not in got["listed_while_deleted"]
    assert got["found"] == [f"mlflow-exp-{name}-renamed"]
    assert got["missing"] is None
    tracking = live.tracking()
    exp = tracking.get_experiment(got["id"])
    assert (exp.name, exp.deleted_at, exp.tags["stage"]) == (got["name"], None, "dev")
    default_run = tracking.get_run(got["default_run"])
    assert tracking.get_experiment(default_run.experiment_id).name == "Default"


def test_errors_carry_mlflow_codes(
    live: LiveServer, mlflow_python: tuple[str, Path], tmp_path: Path
) -> None:
    name, python = mlflow_python
    got = run_client(
        python,
        live,
        """
        client = MlflowClient()
        codes = {}
        def code(label, call):
            try:
                call()
                codes[label] = None
            except MlflowException as err:
                codes[label] = err.error_code
        code("get_run", lambda: client.get_run("01NOSUCHRUN000000000000000"))
        client.create_experiment(ARGS["experiment"])
        code("duplicate", lambda: client.create_experiment(ARGS["experiment"]))
        code("bad_filter", lambda: client.search_runs(["0"], "metrics.acc >>> 1"))
        code("get_experiment", lambda: client.get_experiment("01NOSUCHEXPERIMENT00000000"))
        run = client.create_run("0")
        client.log_param(run.info.run_id, "p", "1")
        code("param_change", lambda: client.log_param(run.info.run_id, "p", "2"))
        done(codes)
        """,
        tmp_path,
        experiment=f"mlflow-errors-{name}",
    )
    assert got == {
        "get_run": "RESOURCE_DOES_NOT_EXIST",
        "duplicate": "RESOURCE_ALREADY_EXISTS",
        "bad_filter": "INVALID_PARAMETER_VALUE",
        "get_experiment": "RESOURCE_DOES_NOT_EXIST",
        "param_change": "INVALID_PARAMETER_VALUE",
    }


# -- artifacts ---------------------------------------------------------------------------


def test_artifacts_round_trip_through_the_proxy(
    live: LiveServer, mlflow_python: tuple[str, Path], tmp_path: Path
) -> None:
    name, python = mlflow_python
    got = run_client(
        python,
        live,
        """
        import tempfile
        from pathlib import Path
        mlflow.set_experiment(ARGS["experiment"])
        src = Path(tempfile.mkdtemp())
        (src / "notes.txt").write_text("hello")
        (src / "tree" / "deep").mkdir(parents=True)
        (src / "tree" / "deep" / "big.bin").write_bytes(bytes(range(256)) * 12000)
        with mlflow.start_run() as run:
            mlflow.log_artifact(str(src / "notes.txt"))
            mlflow.log_artifacts(str(src / "tree"), "tree")
            mlflow.log_dict({"a": 1}, "config/params.json")
        uri = run.info.artifact_uri
        listed = mlflow.artifacts.list_artifacts(artifact_uri=uri + "/tree/deep")
        out = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tempfile.mkdtemp())
        )
        files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        big = Path("tree", "deep", "big.bin")
        same = (out / big).read_bytes() == (src / big).read_bytes()
        one = mlflow.artifacts.load_text(uri + "/notes.txt")
        done({
            "run": run.info.run_id,
            "uri": uri,
            "listed": [(f.path, f.is_dir, f.file_size) for f in listed],
            "files": files,
            "same": same,
            "text": one,
        })
        """,
        tmp_path,
        experiment=f"mlflow-artifacts-{name}",
    )
    assert got["uri"].startswith("mlflow-artifacts:/")
    assert got["run"] in got["uri"]
    assert got["listed"] == [
        ["deep/big.bin", False, 256 * 12000]
    ]  # MLflow splits off the last segment
    assert got["files"] == ["config/params.json", "notes.txt", "tree/deep/big.bin"]
    assert got["same"] is True
    assert got["text"] == "hello"
    tracking = live.tracking()
    assert tracking.run_artifacts.read_bytes(got["run"], "notes.txt") == b"hello"
    assert json.loads(tracking.run_artifacts.read_bytes(got["run"], "config/params.json")) == {
        "a": 1
    }
    assert [e.path for e in tracking.run_artifacts.list(got["run"])] == [
        "config",
        "notes.txt",
        "tree",
    ]


def _raw(live: LiveServer, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
    """One request with the path sent exactly as written (no client-side normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    finally:
        conn.close()


def test_artifact_proxy_refuses_paths_that_escape_the_run(live: LiveServer) -> None:
    tracking = live.tracking()
    run = tracking.create_run("mlflow-unsafe", name="victim")
    root = f"/api/2.0/mlflow-artifacts/artifacts/{run.experiment_id}/{run.id}/artifacts"
    for path in (
        f"{root}/../../../etc/passwd",
        f"{root}/%2e%2e/%2e%2e/x.txt",
        f"{root}/sub/..%2F..%2Fx.txt",
        "/api/2.0/mlflow-artifacts/artifacts//etc/passwd",
    ):
        status, body = _raw(live, "PUT", path, b"data")
        assert status == 400, (path, status, body)
        assert body["error_code"] == "INVALID_PARAMETER_VALUE", path
        status, body = _raw(live, "GET", path)
        assert status in (400, 404), (path, status)
    status, body = _raw(
        live,
        "GET",
        f"/api/2.0/mlflow-artifacts/artifacts?path={run.experiment_id}/{run.id}/artifacts/..",
    )
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert tracking.run_artifacts.list(run.id) == []
    # An upload to the right place is accepted (the refusals above were about the paths).
    status, _ = _raw(live, "PUT", f"{root}/ok.txt", b"data")
    assert status == 200
    assert tracking.run_artifacts.read_bytes(run.id, "ok.txt") == b"data"


def test_ajax_prefix_and_run_json_shape(live: LiveServer) -> None:
    tracking = live.tracking()
    run = tracking.create_run("mlflow-shape", name="shape", params={"a": "1"})
    tracking.log_metric(run.id, "loss", float("nan"))
    tracking.end_run(run.id)
    status, body = _raw(live, "GET", f"/ajax-api/2.0/mlflow/runs/get?run_id={run.id}")
    assert status == 200
    info = body["run"]["info"]
    assert (info["run_id"], info["status"], info["lifecycle_stage"]) == (
        run.id,
        "FINISHED",
        "active",
    )
    assert body["run"]["data"]["metrics"][0]["value"] == "NaN"
    assert {"key": "mlflow.runName", "value": "shape"} in body["run"]["data"]["tags"]
    status, body = _raw(live, "GET", "/api/2.0/mlflow/runs/get?run_id=nope")
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_sklearn_model_logged_by_mlflow2_loads_back(live: LiveServer, tmp_path: Path) -> None:
    """2.x logs models as run artifacts plus runs/log-model (3.x clients need the
    logged-model routes, tested with them)."""
    python = _client_python("mlflow2")
    got = run_client(
        python,
        live,
        """
        import mlflow.sklearn
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        mlflow.set_experiment("mlflow-sklearn")
        X = np.arange(60, dtype=float).reshape(20, 3)
        y = (X[:, 0] > 30).astype(int)
        with mlflow.start_run() as run:
            model = LogisticRegression().fit(X, y)
            mlflow.sklearn.log_model(model, "model")
        loaded = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
        done({"run": run.info.run_id, "same": bool((loaded.predict(X) == model.predict(X)).all())})
        """,
        tmp_path,
    )
    assert got["same"] is True
    tracking = live.tracking()
    files = [e.path for e in tracking.run_artifacts.list(got["run"], "model")]
    assert "model/MLmodel" in files
    assert "model/model.pkl" in files
    history = json.loads(tracking.get_run(got["run"]).tags["mlflow.log-model.history"])
    assert history[0]["artifact_path"] == "model"


def test_tokens_from_mlflow_clients_act_as_their_user(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    python = _client_python("mlflow3")
    home = tmp_path_factory.mktemp("mlflow-tokens-home")
    accounts = AccountService(open_store(Settings.load(home=home).db_url))
    accounts.create_user("ana", role="editor")
    accounts.create_user("val", role="viewer")
    _, editor = accounts.create_token("ana", "mlflow")
    _, viewer = accounts.create_token("val", "mlflow")
    script = """
        client = MlflowClient()
        try:
            run = client.create_run("0", run_name="by-token")
            client.log_metric(run.info.run_id, "acc", 0.5)
            done({"run": run.info.run_id, "user": client.get_run(run.info.run_id).info.user_id})
        except MlflowException as err:
            done({"error": err.error_code})
        """
    for live in _serve(home, "--auth", "tokens"):
        as_editor = run_client(python, live, script, tmp_path, {"MLFLOW_TRACKING_TOKEN": editor})
        basic = {"MLFLOW_TRACKING_USERNAME": "val", "MLFLOW_TRACKING_PASSWORD": viewer}
        as_viewer = run_client(python, live, script, tmp_path, basic)
        nobody = run_client(python, live, script, tmp_path)
        assert as_editor["user"] == "ana"
        assert live.tracking().get_run(as_editor["run"]).user == "ana"
        assert as_viewer == {"error": "PERMISSION_DENIED"}
        assert nobody == {"error": "UNAUTHENTICATED"}
