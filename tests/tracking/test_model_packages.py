"""run.log_model logs a package without the registry; loopml.log_model registers it too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import loopml
from loopml.packaging.models import PackageInfo
from loopml.registry.models import ModelInfo

_LOG_IN_A_RUN = """
import json, sys
import numpy as np
from sklearn.linear_model import LinearRegression
from loopml.tracking.fluent import start_run
x = np.arange(6.0).reshape(3, 2)
with start_run(experiment="packages") as run:
    info = run.log_model(LinearRegression().fit(x, [1.0, 2.0, 3.0]), input_example=x)
print(json.dumps({
    "type": type(info).__name__,
    "uri": info.uri,
    "registry": sorted(m for m in sys.modules if m.startswith("loopml.registry")),
}))
"""


def test_run_log_model_logs_a_package_without_importing_the_registry(tmp_path: Path) -> None:
    env = {"LOOPML_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    out = subprocess.run(
        [sys.executable, "-c", _LOG_IN_A_RUN],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["type"] == "PackageInfo"
    assert result["uri"].startswith("runs:/")
    assert result["uri"].endswith("/model")
    assert result["registry"] == []


def test_sdk_log_model_registers_with_register_as() -> None:
    from sklearn.linear_model import LinearRegression

    x = [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    with loopml.start_run(experiment="packages") as run:
        plain = run.log_model(LinearRegression().fit(x, [1.0, 2.0, 3.0]), input_example=x)
        info = loopml.log_model(
            LinearRegression().fit(x, [1.0, 2.0, 3.0]), "second", register_as="line"
        )
    assert type(plain) is PackageInfo
    assert isinstance(info, ModelInfo)
    assert isinstance(info, PackageInfo)
    assert info.registered is not None
    assert info.registered.uri == "models:/line/1"
    assert info.registered.package_digest == info.package_digest


def test_every_log_model_face_takes_the_same_package_options() -> None:
    from sklearn.linear_model import LinearRegression

    x = [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    model = LinearRegression().fit(x, [1.0, 2.0, 3.0])
    with loopml.start_run(experiment="packages") as run:
        pinned = loopml.log_model(model, "pinned", input_example=x, requirements=["six==1.16.0"])
        bare = run.log_model(model, "bare")
        # A keyword no face takes is refused as Python refuses it, and nothing is logged.
        for log in (run.log_model, loopml.log_model):
            with pytest.raises(TypeError, match=r"unexpected keyword argument.*flavor"):
                log(model, "typo", flavor="sklearn")  # type: ignore[call-arg]
        logged = {entry.path.split("/")[0] for entry in run.client.run_artifacts.list(run.id)}
    assert pinned.signature is not None
    assert bare.signature is None
    assert "typo" not in logged
