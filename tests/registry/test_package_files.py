"""A package's files as the registry names them: where it is stored for good, and each
file as a verified stream."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import loopml
from loopml.config import Settings
from loopml.errors import NotFoundError
from loopml.registry import RegistryClient


def test_package_files_resolve_aliases_and_stream_verified(settings: Settings) -> None:
    loopml.configure(home=str(settings.home), db_url=settings.db_url)
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    with loopml.start_run(experiment="files") as run:
        loopml.log_model(LinearRegression().fit(x, [1, 2, 3]), register_as="lin")
    client = RegistryClient(settings)
    client.set_alias("lin", "champion", 1)
    where, entries = client.package_files("models:/lin@champion")
    assert where == "models:/lin/1"
    assert {e.path for e in entries} >= {"model.json", "model.skops"}
    run_where, run_entries = client.package_files(f"runs:/{run.id}/model")
    assert run_where == f"runs:/{run.id}/model"
    assert {e.digest for e in run_entries} == {e.digest for e in entries}
    entry, stream = client.open_package_file("models:/lin/1", "model.json")
    with stream:
        assert hashlib.sha256(stream.read()).hexdigest() == entry.digest
    with pytest.raises(NotFoundError, match=r"model\.skops"):
        client.open_package_file("models:/lin/1", "nope.bin")
    with pytest.raises(NotFoundError):
        client.package_files("models:/lin/9")
