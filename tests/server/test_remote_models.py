"""Remote mode for models: ``loopml.load_model`` with ``LOOPML_TRACKING_URI`` set fetches
the package from the server (each file checked against its SHA-256) and loads it like a
package from a store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

import loopml
from loopml.config import Settings
from loopml.errors import NotFoundError
from loopml.registry import RegistryClient
from loopml.server import ServerConfig

from ._support import live_server, make_server


def _data() -> tuple[pd.DataFrame, pd.Series]:
    frame = load_breast_cancer(as_frame=True)
    return frame.data.head(200), frame.target.head(200)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, str, object]:
    """A store with churn v1 at alias production, logged in a run; the run id and model."""
    settings = Settings.load(home=tmp_path / "server-home")
    monkeypatch.setenv("LOOPML_HOME", str(settings.home))
    x, y = _data()
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    with loopml.start_run(experiment="remote-models") as run:
        loopml.log_model(model, input_example=x.head(5), register_as="churn")
    RegistryClient(settings).set_alias("churn", "champion", 1)
    monkeypatch.delenv("LOOPML_HOME")
    return settings, run.id, model


def test_a_model_loads_from_the_server_by_alias_and_by_run(
    tmp_path: Path, store: tuple[Settings, str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, run_id, model = store
    x, _ = _data()
    with live_server(settings) as server:
        monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "client"))
        monkeypatch.setenv("LOOPML_TRACKING_URI", server.url)
        by_alias = loopml.load_model("models:/churn@champion")
        by_run = loopml.load_model(f"runs:/{run_id}/model")
        with pytest.raises(NotFoundError, match="churn"):
            loopml.load_model("models:/churn@staging")
    assert by_alias.uri == "models:/churn/1"  # the alias, resolved on the server
    assert np.array_equal(by_alias.predict(x), model.predict(x))  # type: ignore[attr-defined]
    assert np.array_equal(by_run.predict(x), by_alias.predict(x))
    assert by_alias.folder.is_relative_to(tmp_path / "client" / "cache" / "packages")
    assert not (tmp_path / "client" / "loopml.db").exists()


def test_the_package_routes_answer_4xx_for_bad_asks(store: tuple[Settings, str, object]) -> None:
    for server in make_server(store[0], ServerConfig(auth="none")):
        http = server.client
        listed = http.get("/api/v1/packages", params={"uri": "models:/churn@champion"})
        assert listed.status_code == 200, listed.text
        assert "model.skops" in {f["path"] for f in listed.json()["files"]}
        (skops,) = [f for f in listed.json()["files"] if f["path"] == "model.skops"]
        part = http.get(
            "/api/v1/packages/files/model.skops",
            params={"uri": "models:/churn/1"},
            headers={"range": "bytes=0-9"},
        )
        assert (part.status_code, len(part.content)) == (206, 10)
        assert part.headers["content-range"] == f"bytes 0-9/{skops['size']}"
        assert http.get("/api/v1/packages").status_code == 400
        assert http.get("/api/v1/packages", params={"uri": "models:/nope/1"}).status_code == 404
        assert http.get("/api/v1/packages", params={"uri": "not a uri"}).status_code == 400
        missing = http.get("/api/v1/packages/files/other.bin", params={"uri": "models:/churn/1"})
        assert missing.status_code == 404
        assert "model.skops" in missing.json()["error"]["message"]
        escape = http.get("/api/v1/packages/files/../secret", params={"uri": "models:/churn/1"})
        assert escape.status_code in (400, 404)
