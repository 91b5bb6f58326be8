"""The real ``mlflow`` clients (3.x and 2.x) driving the model registry of a real ``loopml server``.

The clients live in their own virtualenvs, built by ``scripts/mlflow-clients.sh``
(``.venv-clients/mlflow3`` and ``.venv-clients/mlflow2``); without them these tests skip,
saying so. Each test runs a client script as a subprocess against ``loopml server`` on a
free loopback port, then checks with loopml's own registry what the client made.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.errors import UntrustedTypesError
from loopml.registry import RegistryClient
from loopml.registry.loading import load_model

from ._support import ROOT, server_process


@dataclass
class Live:
    url: str
    home: Path

    @property
    def settings(self) -> Settings:
        return Settings.load(home=self.home)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """``loopml server`` on a free loopback port over a fresh home."""
    home = tmp_path_factory.mktemp("mlflow-registry-home")
    with server_process(home) as url:
        yield Live(url, home)


@pytest.fixture(params=["mlflow3", "mlflow2"])
def client_python(request: pytest.FixtureRequest) -> Path:
    python = ROOT / ".venv-clients" / request.param / "bin" / "python"
    if not python.exists():
        pytest.skip(
            f"{python} does not exist: build the MLflow clients with scripts/mlflow-clients.sh"
        )
    return python


SCRIPT = """
import json, sys
import numpy as np
import mlflow, mlflow.sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

experiment, name = sys.argv[1], sys.argv[2]
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
Y = np.array([0, 1, 1, 1] * 5)
out = {"mlflow": mlflow.__version__}
client = MlflowClient()

def code(call):
    try:
        call()
    except MlflowException as err:
        return err.error_code
    return None

client.create_registered_model(name, tags={"team": "growth"}, description="who leaves")
out["again"] = code(lambda: client.create_registered_model(name))
out["missing"] = code(lambda: client.get_registered_model(name + "-nope"))

mlflow.set_experiment(experiment)
options = {"name": "model"} if mlflow.__version__.startswith("3") else {"artifact_path": "model"}
try:
    import skops  # MLflow 3 saves scikit-learn models with skops by default, when it can
    out["skops"] = mlflow.__version__.startswith("3")
except ImportError:
    out["skops"] = False
    if mlflow.__version__.startswith("3"):
        options["serialization_format"] = "cloudpickle"
with mlflow.start_run() as run:
    model = LogisticRegression().fit(X, Y)
    mlflow.sklearn.log_model(model, **options)
out["run_id"] = run.info.run_id
mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
out["version"] = mv.version
out["status"] = client.get_model_version(name, mv.version).status

client.set_registered_model_alias(name, "champion", mv.version)
loaded = mlflow.sklearn.load_model(f"models:/{name}@champion")
out["same_predictions"] = loaded.predict(X).tolist() == model.predict(X).tolist()
out["by_alias"] = client.get_model_version_by_alias(name, "champion").version

second = client.create_model_version(name, mv.source, run_id=mv.run_id, tags={"k": "v"})
out["second"] = second.version
client.set_model_version_tag(name, second.version, "reviewed", "yes")
client.set_registered_model_tag(name, "owner", "ana")
client.update_registered_model(name, description="who leaves next month")
client.update_model_version(name, second.version, description="again")
got = client.get_registered_model(name)
out["model"] = {
    "description": got.description,
    "tags": got.tags,
    "aliases": got.aliases,
}
found = client.search_registered_models(filter_string=f"name = '{name}'")
out["searched"] = [m.name for m in found]
versions = client.search_model_versions(f"name = '{name}'")
out["versions"] = sorted(int(v.version) for v in versions)
tagged = client.search_model_versions(f"name = '{name}' and tags.reviewed = 'yes'")
out["tagged"] = [v.version for v in tagged]
second_now = client.get_model_version(name, second.version)
out["second_tags"] = second_now.tags
out["second_description"] = second_now.description

client.delete_registered_model_alias(name, "champion")
out["alias_gone"] = code(lambda: client.get_model_version_by_alias(name, "champion"))
client.delete_model_version(name, second.version)
out["version_gone"] = code(lambda: client.get_model_version(name, second.version))
out["stage"] = code(
    lambda: client.transition_model_version_stage(name, mv.version, "Production")
)
client.set_registered_model_alias(name, "champion", mv.version)
print(json.dumps(out))
"""


def _run_client(python: Path, live: Live, tmp_path: Path, *args: str) -> dict[str, Any]:
    script = tmp_path / "registry_client.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPML_", "MLFLOW_"))}
    env.pop("PYTHONPATH", None)
    env.update(MLFLOW_TRACKING_URI=live.url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    result = subprocess.run(
        [str(python), str(script), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_the_mlflow_client_registers_aliases_loads_and_manages_versions(
    live: Live, client_python: Path, tmp_path: Path
) -> None:
    name = f"churn-{client_python.parent.parent.name}"
    out = _run_client(client_python, live, tmp_path, f"exp-{name}", name)
    assert out["again"] == "RESOURCE_ALREADY_EXISTS"
    assert out["missing"] == "RESOURCE_DOES_NOT_EXIST"
    assert out["version"] == "1"
    assert out["status"] == "READY"
    assert out["same_predictions"] is True
    assert out["by_alias"] == "1"
    assert out["second"] == "2"
    assert out["model"] == {
        "description": "who leaves next month",
        "tags": {"team": "growth", "owner": "ana"},
        "aliases": {"champion": "1"},
    }
    assert out["searched"] == [name]
    assert out["versions"] == [1, 2]
    assert out["tagged"] == ["2"]
    assert out["second_tags"] == {"k": "v", "reviewed": "yes"}
    assert out["second_description"] == "again"
    assert out["alias_gone"] == "RESOURCE_DOES_NOT_EXIST"
    assert out["version_gone"] == "RESOURCE_DOES_NOT_EXIST"
    assert out["stage"] == "INVALID_PARAMETER_VALUE"

    # What MLflow registered is an ordinary loopml version, which loopml loads: a skops
    # file as it is, a pickle only when the caller trusts it.
    registry = RegistryClient(live.settings)
    version = registry.resolve(f"models:/{name}@champion")
    assert version.flavor == "mlflow"
    assert registry.get_version(name, 2).status.value == "archived"
    if out["skops"]:
        loaded = load_model(f"models:/{name}@champion", settings=live.settings)
    else:
        with pytest.raises(UntrustedTypesError):
            load_model(f"models:/{name}@champion", settings=live.settings)
        loaded = load_model(f"models:/{name}@champion", settings=live.settings, trusted=["pickle"])
    assert list(loaded.predict([[0.0, 0.0], [1.0, 1.0]])) == [0, 1]
