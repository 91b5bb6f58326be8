"""Registering models in remote mode: a package logged in a remote run is registered on
the server; what the server cannot read (a folder on the client's machine) is refused
clearly, and nothing is written to a local store the remote runs are not in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import loopml
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.registry import RegistryClient

from ._support import live_server


def test_models_logged_remotely_are_registered_on_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Settings.load(home=tmp_path / "server")
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    model = LinearRegression().fit(x, [2.0, 4.0, 6.0, 8.0])
    with live_server(store) as server:
        monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "client"))
        monkeypatch.setenv("LOOPML_TRACKING_URI", server.url)
        with loopml.start_run(experiment="remote") as run:
            loopml.log_metric("auc", 0.9)
            first = loopml.log_model(model, input_example=x, register_as="churn")
            second = loopml.register_model(f"runs:/{run.id}/model", "churn", tags={"k": "v"})
            with pytest.raises(InvalidInputError, match=server.url):
                loopml.register_model(tmp_path / "a-local-folder", "churn")
        loaded = loopml.load_model("models:/churn/2")
        assert loopml.get_run(run.id).metrics == {"auc": 0.9}
    assert first.registered is not None
    assert (first.registered.version, second.version) == (1, 2)
    served = RegistryClient(store).get_version("churn", 2)
    assert (served.tags, served.run_id) == ({"k": "v"}, run.id)
    assert np.allclose(loaded.predict(x), model.predict(x))
    assert not (tmp_path / "client" / "loopml.db").exists()


def test_the_register_route_refuses_sources_the_server_must_not_read(tmp_path: Path) -> None:
    from loopml.server import ServerConfig

    from ._support import make_server

    for server in make_server(Settings.load(home=tmp_path / "s"), ServerConfig(auth="none")):
        for source in ("/etc", "../x", "models:/other/1", "datasets:/d/1"):
            reply = server.client.post("/api/v1/models/m/versions", json={"source": source})
            assert reply.status_code == 400, (source, reply.text)
            assert "runs:/" in reply.json()["error"]["message"]
        missing = server.client.post(
            "/api/v1/models/m/versions", json={"source": "runs:/nope/model"}
        )
        assert missing.status_code == 404
