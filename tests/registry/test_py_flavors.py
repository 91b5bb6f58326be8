"""``py:`` flavors named by a package: checked at register time, trusted by name at load.

Replays issue 10's attack: a ``model.json`` whose flavor is ``py:os:system?command=…``
or ``py:subprocess:Popen?args=…&shell=1`` was registered, and loading it ran the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _registry_packages import write_package

from loopml.artifacts import ArtifactStore
from loopml.config import Settings
from loopml.errors import InvalidInputError, UntrustedTypesError
from loopml.packaging.loading import load_package
from loopml.packaging.package import save_package
from loopml.registry.client import RegistryClient
from loopml.registry.loading import load_model
from loopml.tracking import TrackingClient

FLAVOR = f"py:{__name__}:Table"  # a real third-party flavor (below)


class _Lookup:
    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table

    def predict(self, data: Any) -> Any:
        return [self.table[str(key)] for key in data]


class Table:
    """A flavor for dicts: saves them as JSON, predicts by lookup."""

    name = "table"

    def accepts(self, model: Any) -> bool:
        return isinstance(model, dict)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        (folder / "table.json").write_text(json.dumps(model))
        return {}

    def load(self, folder: Path, options: dict[str, Any], *, trusted: Any) -> Any:
        return _Lookup(json.loads((folder / "table.json").read_text()))

    def requirements(self, model: Any) -> list[str]:
        return []


def _blobs(settings: Settings) -> list[Any]:
    return list(ArtifactStore.from_url(settings.artifacts_url).blob_store.iter_blobs())


def test_a_folder_whose_flavor_runs_a_command_is_refused_and_nothing_runs(
    tmp_path: Path,
) -> None:
    pwned = tmp_path / "pwned"
    popen = write_package(
        tmp_path / "popen", flavor=f"py:subprocess:Popen?args=touch {pwned}&shell=1"
    )
    system = write_package(tmp_path / "system", flavor=f"py:os:system?command=touch {pwned}")
    with pytest.raises(UntrustedTypesError, match=r'trusted=\["subprocess.Popen"\]'):
        load_model(popen)
    with pytest.raises(UntrustedTypesError, match=r"--trust os\.system"):
        load_model(system)
    # trusting the name does not make it a flavor: both are refused before any call
    with pytest.raises(InvalidInputError, match="is not a model flavor; it lacks name, accepts"):
        load_model(popen, trusted=["subprocess.Popen"])
    with pytest.raises(InvalidInputError, match="is not a class"):
        load_package(system, trusted=["os.system"])
    assert not pwned.exists()


def test_registering_a_package_with_such_a_flavor_fails_before_anything_is_stored(
    registry: RegistryClient, settings: Settings, tmp_path: Path, log_package: Any
) -> None:
    evil = write_package(tmp_path / "evil", flavor="py:os:system?command=touch pwned")
    with pytest.raises(InvalidInputError, match=r"py:os:system.* is not a class"):
        registry.register(evil, "evil")
    typo = write_package(tmp_path / "typo", flavor="sklern")
    with pytest.raises(InvalidInputError, match="did you mean: sklearn"):
        registry.register(typo, "evil")
    assert registry.list_models() == []
    assert _blobs(settings) == []
    logged = log_package(flavor="py:subprocess:Popen?args=id")  # stored by a run, unchecked
    with pytest.raises(InvalidInputError, match="lacks name, accepts"):
        registry.register(logged, "evil")
    with pytest.raises(UntrustedTypesError, match=r"subprocess\.Popen"):
        load_model(logged, settings=settings)
    assert registry.list_models() == []
    assert not Path("pwned").exists()


def test_a_stored_third_party_flavor_loads_only_when_trusted(
    registry: RegistryClient, tracking: TrackingClient, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "table"
    save_package({"1": "one", "2": "two"}, folder, flavor=FLAVOR)
    run = tracking.create_run("py-flavors")
    tracking.log_artifacts(run.id, folder, "model")
    version = registry.register(f"runs:/{run.id}/model", "table")
    trust = f"{__name__}.Table"
    for where in (version.uri, f"runs:/{run.id}/model"):
        with pytest.raises(UntrustedTypesError, match=rf'trusted=\["{trust}"\]') as caught:
            load_model(where, settings=settings)
        assert caught.value.types == [trust]
        assert load_model(where, settings=settings, trusted=[trust]).predict([2]) == ["two"]
    with pytest.raises(UntrustedTypesError):
        load_package(folder)  # model.json read from disk is stored too
    assert load_package(folder, trusted=[trust]).flavor == FLAVOR


class AFlavorWhoseDottedNameRunsPastThirtyTwoCharacters(Table):
    """The same flavor under a long name (``model_versions.flavor`` once held 32)."""


def test_a_third_party_flavor_with_a_long_dotted_name_registers_and_loads(
    registry: RegistryClient, tracking: TrackingClient, settings: Settings, tmp_path: Path
) -> None:
    long_name = f"py:{__name__}:AFlavorWhoseDottedNameRunsPastThirtyTwoCharacters"
    assert len(long_name) > 32
    folder = tmp_path / "table"
    save_package({"1": "one"}, folder, flavor=long_name)
    version = registry.register(folder, "table")
    trusted = [long_name.removeprefix("py:").replace(":", ".")]
    assert load_model(version.uri, settings=settings, trusted=trusted).predict([1]) == ["one"]
    assert registry.get_version("table", version.version).flavor == long_name


def test_a_flavor_name_too_long_to_store_says_so(registry: RegistryClient, tmp_path: Path) -> None:
    huge = write_package(tmp_path / "huge", flavor="py:" + "x" * 300 + ":Flavor")
    with pytest.raises(InvalidInputError, match=r"is 310 characters long; .* at most 255"):
        registry.register(huge, "huge")
    assert registry.list_models() == []
