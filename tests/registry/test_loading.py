"""load_model over runs:/ and models:/ URIs and folders, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml._sdk.models import log_model
from loopml.config import Settings
from loopml.errors import (
    ConflictError,
    DigestMismatchError,
    InvalidInputError,
    NotFoundError,
    SignatureError,
)
from loopml.registry.client import RegistryClient
from loopml.registry.loading import load_model


@pytest.fixture(autouse=True)
def _fluent(settings: Settings) -> None:
    """The fluent API (start_run, log_model) on the test's store."""
    loopml.configure(home=str(settings.home), db_url=settings.db_url)


def _data() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    return data.data.iloc[:, :6], data.target


def _classifier() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    x, y = _data()
    return RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)


def test_a_model_logged_in_a_run_loads_from_its_runs_uri(settings: Settings) -> None:
    x, _ = _data()
    model = _classifier()
    with loopml.start_run(experiment="load") as run:
        info = log_model(model, input_example=x)
    assert info.uri == f"runs:/{run.id}/model"
    assert info.run_id == run.id
    assert info.flavor == "sklearn"
    assert info.registered is None
    assert set(info.files) == {"input_example.json", "model.skops", "requirements.txt"}
    loaded = load_model(info.uri, settings=settings)
    assert loaded.uri == info.uri
    assert loaded.manifest.digest == info.package_digest
    assert loaded.manifest.source_run == run.id
    assert (loaded.predict(x) == model.predict(x)).all()
    assert np.allclose(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.folder.is_relative_to(settings.home / "cache" / "packages")


def test_predict_enforces_the_signature(settings: Settings) -> None:
    x, _ = _data()
    with loopml.start_run() as run:
        run.log_model(_classifier(), "forest", input_example=x)
    loaded = load_model(f"runs:/{run.id}/forest", settings=settings)
    bad = x.drop(columns=["mean radius"]).assign(**{"mean texture": "high"})
    with pytest.raises(SignatureError) as caught:
        loaded.predict(bad)
    assert caught.value.problems == [
        "missing column 'mean radius' (double)",
        "column 'mean texture' (double): str cannot become float64; only numbers widen, "
        "nothing else casts",
    ]
    with pytest.raises(SignatureError):
        loaded.predict_proba(bad)
    shuffled = x[list(reversed(x.columns))].assign(extra=1)
    assert (loaded.predict(shuffled) == loaded.predict(x)).all()  # order fixed, extra dropped


def test_predict_proba_exists_only_where_the_model_has_it(settings: Settings) -> None:
    from sklearn.linear_model import LinearRegression

    x, y = _data()
    with loopml.start_run():
        info = log_model(LinearRegression().fit(x, y), input_example=x)
    loaded = load_model(info.uri, settings=settings)
    assert not hasattr(loaded, "predict_proba")
    with pytest.raises(AttributeError, match="has no predict_proba: its model gives no class"):
        loaded.predict_proba(x)
    assert loaded.predict(x).shape == (len(x),)


def test_what_does_not_exist_is_named_with_what_does(settings: Settings, tmp_path: Path) -> None:
    with loopml.start_run() as run:
        log_model(_classifier(), "forest")
    with pytest.raises(NotFoundError, match=f"packages in run {run.id}: forest"):
        load_model(f"runs:/{run.id}/model", settings=settings)
    with pytest.raises(NotFoundError, match="run 'NOSUCHRUN' not found"):
        load_model("runs:/NOSUCHRUN/model", settings=settings)
    with pytest.raises(NotFoundError, match=r"give a folder with model\.json, or a URI"):
        load_model(str(tmp_path / "nowhere"))
    with pytest.raises(InvalidInputError, match="is not a model"):
        load_model("datasets:/iris/1", settings=settings)


def test_logging_twice_under_one_name_and_outside_a_run_is_refused() -> None:
    model = _classifier()
    with loopml.start_run() as run:
        run.log_model(model)
        with pytest.raises(ConflictError, match="already has files under 'model'"):
            run.log_model(model)
    with pytest.raises(InvalidInputError, match="no active run"):
        log_model(model)


def test_a_changed_cached_copy_is_fetched_again(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    x, _ = _data()
    with loopml.start_run():
        info = log_model(_classifier(), input_example=x)
    first = load_model(info.uri, settings=settings)
    (first.folder / "model.skops").write_bytes(b"tampered")
    with caplog.at_level(logging.WARNING, logger="loopml.registry"):
        again = load_model(info.uri, settings=settings)
    assert "file model.skops changed after it was logged" in caplog.text
    assert (again.predict(x) == first.predict(x)).all()
    shutil.rmtree(again.folder)  # a removed cache is fetched again too
    assert (load_model(info.uri, settings=settings).predict(x) == first.predict(x)).all()


def test_a_cached_copy_cannot_hide_a_tampered_package(settings: Settings, tmp_path: Path) -> None:
    x, _ = _data()
    with loopml.start_run():
        info = log_model(_classifier(), input_example=x)
    folder = load_model(info.uri, settings=settings).folder
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "requirements.txt").write_text("evil==6.6.6\n")
    with pytest.raises(DigestMismatchError, match=r"file requirements\.txt changed"):
        load_model(str(copy))


def test_registered_versions_load_by_number_and_alias(settings: Settings) -> None:
    x, _ = _data()
    model = _classifier()
    with loopml.start_run():
        info = log_model(model, input_example=x, register_as="cancer")
    assert info.registered is not None
    assert info.registered.uri == "models:/cancer/1"
    assert info.registered.package_digest == info.package_digest
    registry = RegistryClient(settings)
    registry.set_alias("cancer", "staging", 1)
    by_number = load_model("models:/cancer/1", settings=settings)
    by_alias = load_model("models:/cancer@staging", settings=settings)
    assert by_number.uri == by_alias.uri == "models:/cancer/1"
    assert (by_alias.predict(x) == model.predict(x)).all()
    with pytest.raises(NotFoundError, match="aliases of 'cancer': staging"):
        load_model("models:/cancer@production", settings=settings)


def test_loading_warns_once_when_installed_versions_differ_from_the_pins(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    x, _ = _data()
    with loopml.start_run():
        pinned_elsewhere = log_model(_classifier(), input_example=x, requirements=["numpy==0.0.1"])
        matching = log_model(_classifier(), "same", input_example=x)
    with caplog.at_level(logging.WARNING, logger="loopml.registry"):
        load_model(matching.uri, settings=settings)
        assert caplog.text == ""  # what it was saved with is what is installed
        load_model(pinned_elsewhere.uri, settings=settings)
        load_model(pinned_elsewhere.uri, settings=settings)
    [warning] = caplog.records
    assert f"{pinned_elsewhere.uri} was saved with other package versions" in warning.message
    assert f"numpy {np.__version__} is installed, the package pins numpy==0.0.1" in warning.message


# -- package files stay inside the cache (issue 10, item 2) ----------------------------


def _version_id(settings: Settings, name: str, version: int) -> str:
    from sqlalchemy import create_engine, select

    from loopml.store.schema import model_versions

    engine = create_engine(settings.db_url)
    with engine.connect() as conn:
        c = model_versions.c
        found = conn.execute(select(c.id).where(c.model == name, c.version == version))
        owner = str(found.scalar_one())
    engine.dispose()
    return owner


def test_a_stored_package_path_with_dotdot_is_refused(
    registry: RegistryClient, settings: Settings, log_package: Any
) -> None:
    from sqlalchemy import create_engine

    from loopml.errors import UnsafePathError
    from loopml.store.schema import artifact_files

    version = registry.register(log_package(), "planted")
    engine = create_engine(settings.db_url)
    with engine.begin() as conn:
        row = conn.execute(
            artifact_files.select().where(
                artifact_files.c.owner_id == _version_id(settings, "planted", 1),
                artifact_files.c.path == "model.bin",
            )
        ).one()
        conn.execute(
            artifact_files.insert().values(
                {**row._asdict(), "path": "../../escaped.bin", "created_at": 1}
            )
        )
    engine.dispose()
    with pytest.raises(UnsafePathError, match=r"has a '\.\.' component"):
        load_model(version.uri, settings=settings)
    assert not list(settings.home.rglob("escaped.bin"))


def test_a_symlink_planted_in_the_package_cache_is_refused(
    registry: RegistryClient, settings: Settings, log_package: Any, tmp_path: Path
) -> None:
    from loopml.errors import UnsafePathError

    version = registry.register(log_package(), "planted")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cache = settings.home / "cache"
    cache.mkdir(parents=True)
    (cache / "packages").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="packages is a symbolic link"):
        load_model(version.uri, settings=settings)
    (cache / "packages").unlink()
    (cache / "packages").mkdir()
    (cache / "packages" / version.package_digest).symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="is a symbolic link"):
        load_model(version.uri, settings=settings)
    assert list(elsewhere.iterdir()) == []
