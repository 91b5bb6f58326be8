"""In remote mode, the SDK calls that do not talk to a server yet refuse clearly instead of
quietly using a local store the remote runs are not in."""

from __future__ import annotations

from pathlib import Path

import pytest

import loopml
from loopml.config import Settings
from loopml.errors import InvalidInputError

from ._support import live_server


def test_registering_a_model_refuses_in_remote_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_server(Settings.load(home=tmp_path / "server")) as server:
        monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "client"))
        monkeypatch.setenv("LOOPML_TRACKING_URI", server.url)
        with loopml.start_run(experiment="remote") as run:
            loopml.log_metric("auc", 0.9)
            with pytest.raises(InvalidInputError, match=server.url):
                loopml.register_model(f"runs:/{run.id}/model", "churn")
        assert loopml.get_run(run.id).metrics == {"auc": 0.9}  # the run itself went through
    # Nothing was written to a local store on the client's side.
    assert not (tmp_path / "client" / "loopml.db").exists()
