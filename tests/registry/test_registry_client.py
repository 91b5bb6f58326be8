"""The registry client on real SQLite and PostgreSQL stores: models, versions, status, errors."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest
from _registry_packages import LogPackage, manifest_digest, write_package

from loopml.errors import (
    ConflictError,
    DigestMismatchError,
    InvalidInputError,
    NotFoundError,
)
from loopml.registry._files import files_of, locate
from loopml.registry.client import RegistryClient
from loopml.registry.models import ModelInfo, VersionStatus
from loopml.store.audit import history
from loopml.store.lineage import edges_of
from loopml.tracking import TrackingClient
from loopml.uris import parse_uri

# -- registering -----------------------------------------------------------------------


def test_register_from_a_run_creates_the_model_and_version_one(
    registry: RegistryClient, log_package: LogPackage, tmp_path: Path
) -> None:
    uri = log_package(b"forest")
    version = registry.register(uri, "churn", description="first", tags={"team": "growth"})
    assert (version.model, version.version, version.uri) == ("churn", 1, "models:/churn/1")
    assert version.status is VersionStatus.REGISTERED
    assert version.source == uri
    assert version.run_id == parse_uri(uri).name
    assert version.flavor == "sklearn"
    assert version.description == "first"
    assert version.tags == {"team": "growth"}
    reference = write_package(tmp_path / "same", b"forest")
    assert version.package_digest == manifest_digest(reference)
    assert version.size_bytes == sum(p.stat().st_size for p in reference.iterdir())
    assert registry.get_version("churn", 1) == version
    model = registry.get_model("churn")
    assert model.latest_version == 1
    assert model.aliases == {}


def test_versions_number_up_and_own_a_copy_of_the_package_files(
    registry: RegistryClient, log_package: LogPackage, tracking: TrackingClient
) -> None:
    first = registry.register(log_package(), "churn")
    second = registry.register(log_package(), "churn")
    assert [first.version, second.version] == [1, 2]
    run_id = parse_uri(second.source).name
    tracking.delete_run(run_id)  # the version keeps its files
    with registry.store.read() as conn:
        entries = files_of(conn, locate(conn, parse_uri("models:/churn/2")))
    assert [e.path for e in entries] == ["model.bin", "model.json", "requirements.txt"]
    assert next(e for e in entries if e.path == "model.json").digest == second.package_digest


def test_files_beside_the_package_that_model_json_does_not_list_stay_behind(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    version = registry.register(log_package(extra={"notes.txt": b"scratch"}), "churn")
    with registry.store.read() as conn:
        entries = files_of(conn, locate(conn, parse_uri(version.uri)))
    assert "notes.txt" not in [e.path for e in entries]


def test_threads_registering_a_new_model_at_once_get_distinct_numbers(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    uris = [log_package() for _ in range(6)]
    barrier = threading.Barrier(len(uris))
    results: list[object] = []

    def register(uri: str) -> None:
        barrier.wait()
        try:
            results.append(registry.register(uri, "fresh").version)
        except Exception as err:  # collected and checked below
            results.append(err)

    threads = [threading.Thread(target=register, args=(uri,)) for uri in uris]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == [1, 2, 3, 4, 5, 6], results  # type: ignore[type-var]
    assert registry.get_model("fresh").latest_version == 6
    assert len(registry.list_events(kinds=["model.created"])) == 1


def test_registering_records_lineage_audit_and_events(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    uri = log_package()
    version = registry.register(uri, "churn")
    with registry.store.read() as conn:
        [edge] = edges_of(conn, version.node, "in")
        audit = history(conn, "model_version", "churn/1")
    assert (edge["src_kind"], edge["src_id"], edge["edge"]) == ("run", version.run_id, "produced")
    assert [row["action"] for row in audit] == ["model_version.created"]
    assert [e.kind for e in registry.list_events()] == ["model.created", "model_version.created"]


def test_a_model_info_registers_like_its_uri(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    uri = log_package()
    info = ModelInfo(uri, parse_uri(uri).name, "model", "sklearn", None, "0" * 64, 1)
    assert registry.register(info, "churn").source == uri


def test_a_changed_package_file_is_refused_by_name(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    with pytest.raises(DigestMismatchError, match=r"file model.bin changed after it was logged"):
        registry.register(log_package(lie_about="model.bin"), "churn")
    with pytest.raises(NotFoundError):
        registry.get_model("churn")  # nothing was written


def test_registering_from_a_path_without_a_package_lists_the_packages(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    uri = log_package()
    run_id = parse_uri(uri).name
    with pytest.raises(NotFoundError, match=rf"packages in run {run_id}: model"):
        registry.register(f"runs:/{run_id}/modle", "churn")
    with pytest.raises(NotFoundError, match=r"run 'NOSUCHRUN' not found"):
        registry.register("runs:/NOSUCHRUN/model", "churn")


def test_registering_from_a_deleted_run_is_refused(
    registry: RegistryClient, log_package: LogPackage, tracking: TrackingClient
) -> None:
    uri = log_package()
    tracking.delete_run(parse_uri(uri).name)
    with pytest.raises(NotFoundError, match="it was deleted"):
        registry.register(uri, "churn")


def test_packages_whose_paths_differ_only_in_case_stay_apart(
    registry: RegistryClient, tracking: TrackingClient, tmp_path: Path
) -> None:
    run = tracking.create_run("case")
    tracking.log_artifacts(run.id, write_package(tmp_path / "a", b"lower"), "model")
    tracking.log_artifacts(run.id, write_package(tmp_path / "b", b"upper"), "Model")
    lower = registry.register(f"runs:/{run.id}/model", "churn")
    upper = registry.register(f"runs:/{run.id}/Model", "churn")
    assert lower.package_digest == manifest_digest(tmp_path / "a")
    assert upper.package_digest == manifest_digest(tmp_path / "b")
    with registry.store.read() as conn:
        entries = files_of(conn, locate(conn, parse_uri(lower.uri)))
    assert len(entries) == 3


@pytest.mark.parametrize("name", ["", "-churn", "churn model", "a/b", "x" * 251])
def test_bad_model_names_are_refused_with_the_rule(
    registry: RegistryClient, log_package: LogPackage, name: str
) -> None:
    with pytest.raises(InvalidInputError, match="letters, digits"):
        registry.register(log_package(), name)


def test_sources_that_are_not_packages_say_what_to_give(
    registry: RegistryClient, log_package: LogPackage, tmp_path: Path
) -> None:
    registry.register(log_package(), "churn")
    with pytest.raises(InvalidInputError, match="already registered"):
        registry.register("models:/churn/1", "copy")
    with pytest.raises(InvalidInputError, match="cannot register a int"):
        registry.register(3, "churn")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="model package folder"):
        registry.register(tmp_path / "missing", "churn")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="is not a model package"):
        registry.register(tmp_path / "empty", "churn")


# -- models ----------------------------------------------------------------------------


def test_models_are_created_once_listed_and_updated(registry: RegistryClient) -> None:
    created = registry.create_model("churn", description="leavers", tags={"team": "growth"})
    assert created.latest_version is None
    with pytest.raises(ConflictError, match="model 'churn' already exists"):
        registry.create_model("churn")
    registry.create_model("fraud")
    assert [m.name for m in registry.list_models()] == ["churn", "fraud"]
    updated = registry.update_model("churn", tags={"owner": "ana", "team": None})
    assert updated.tags == {"owner": "ana"}
    assert updated.description == "leavers"
    assert registry.get_model("churn") == updated
    with pytest.raises(InvalidInputError, match="nothing to update"):
        registry.update_model("churn")
    kinds = [e.kind for e in registry.list_events(model="churn")]
    assert kinds == ["model.created", "model.updated"]


def test_versions_are_listed_updated_and_filtered_by_status(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    for _ in range(3):
        registry.register(log_package(), "churn")
    registry.set_status("churn", 2, "validated")
    registry.set_alias("churn", "staging", 2)
    assert [v.version for v in registry.list_versions("churn")] == [1, 2, 3]
    [validated] = registry.list_versions("churn", status="validated")
    assert (validated.version, validated.aliases) == (2, ("staging",))
    changed = registry.update_version("churn", 3, description="retrained", tags={"a": "1"})
    assert (changed.description, changed.tags) == ("retrained", {"a": "1"})
    assert registry.update_version("churn", 3, tags={"a": None}).tags == {}
    with pytest.raises(InvalidInputError, match="statuses: registered, validated"):
        registry.list_versions("churn", status="live")


# -- resolving and errors that list what exists -----------------------------------------


def test_resolve_reads_versions_and_aliases(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    registry.register(log_package(), "churn")
    registry.register(log_package(), "churn")
    registry.set_alias("churn", "staging", 1)
    assert registry.resolve("models:/churn/2").version == 2
    staged = registry.resolve("models:/churn@staging")
    assert (staged.version, staged.aliases) == (1, ("staging",))
    with pytest.raises(InvalidInputError, match="does not name a model version"):
        registry.resolve("runs:/ABC/model")
    with pytest.raises(InvalidInputError, match="not a loopml URI"):
        registry.resolve("churn/2")


def test_unknown_names_list_what_exists(registry: RegistryClient, log_package: LogPackage) -> None:
    for _ in range(3):
        registry.register(log_package(), "churn")
    registry.set_alias("churn", "staging", 1)
    with pytest.raises(NotFoundError, match=r"did you mean: churn\?.*registered models: churn"):
        registry.get_model("chrun")
    with pytest.raises(NotFoundError, match=r"versions of 'churn': 1-3"):
        registry.get_version("churn", 9)
    with pytest.raises(NotFoundError, match=r"did you mean: churn@staging\?.*aliases.*staging"):
        registry.resolve("models:/churn@stagin")
    with pytest.raises(NotFoundError, match=r"model 'fraud' not found"):
        registry.resolve("models:/fraud/1")
    with pytest.raises(InvalidInputError, match="version must be a positive integer"):
        registry.get_version("churn", 0)
    # Beyond the store's 32-bit versions (and the driver's 64-bit integers): missing, not a crash.
    for huge in (2**31, 2**70):
        with pytest.raises(NotFoundError, match=r"versions of 'churn': 1-3"):
            registry.get_version("churn", huge)
    with pytest.raises(NotFoundError, match=r"versions of 'churn': 1-3"):
        registry.resolve(f"models:/churn/{2**70}")


def test_an_empty_registry_says_how_to_start(registry: RegistryClient) -> None:
    with pytest.raises(NotFoundError, match="no model is registered yet"):
        registry.get_model("churn")


# -- status ----------------------------------------------------------------------------


def test_status_moves_follow_the_rules_and_name_the_allowed_ones(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    registry.register(log_package(), "churn")
    with pytest.raises(InvalidInputError, match=r"approve\('churn', 1\)"):
        registry.set_status("churn", 1, "approved")
    with pytest.raises(InvalidInputError, match=r"promote\('churn', 1\)"):
        registry.set_status("churn", 1, VersionStatus.DEPLOYED)
    moved = registry.set_status("churn", 1, "validated", reason="checked by hand")
    assert moved.status is VersionStatus.VALIDATED
    assert moved.status_changed_at >= moved.created_at
    archived = registry.archive("churn", 1, reason="superseded")
    assert archived.status is VersionStatus.ARCHIVED
    with pytest.raises(InvalidInputError, match="from 'archived' it may move to: nothing"):
        registry.set_status("churn", 1, "validated")
    [event] = registry.list_events(kinds=["model_version.status_changed"], after=0, limit=1)
    assert event.payload == {"from": "registered", "to": "validated", "reason": "checked by hand"}


def test_an_aliased_version_cannot_be_archived(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    registry.register(log_package(), "churn")
    registry.set_alias("churn", "staging", 1)
    registry.set_alias("churn", "canary", 1)
    with pytest.raises(ConflictError, match=r"churn@canary, churn@staging point\(s\) at it"):
        registry.archive("churn", 1)
    assert registry.get_version("churn", 1).status is VersionStatus.REGISTERED


def test_an_archived_version_takes_no_alias_and_no_approval(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    registry.register(log_package(), "churn")
    registry.archive("churn", 1)
    with pytest.raises(ConflictError, match="models:/churn/1 is archived"):
        registry.set_alias("churn", "staging", 1)
    with pytest.raises(ConflictError, match="has status 'archived'"):
        registry.approve("churn", 1)


# -- evaluations -----------------------------------------------------------------------


def _evaluation(version: int, passed: bool | None, **extra: object) -> dict[str, object]:
    gates = [] if passed is None else [{"expression": "accuracy >= 0.9", "passed": passed}]
    return {
        "model_uri": f"models:/churn/{version}",
        "data": "datasets:/churn/1",
        "target": "left",
        "task": "classification",
        "metrics": {"accuracy": 0.95 if passed else 0.5},
        "gates": gates,
        "passed": passed,
        **extra,
    }


def test_an_evaluation_with_gates_moves_the_status_both_ways(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    registry.register(log_package(), "churn")
    first = registry.save_evaluation(_evaluation(1, True), dataset_node=("dataset_version", "c/1"))
    assert registry.get_version("churn", 1).status is VersionStatus.VALIDATED
    second = registry.save_evaluation(_evaluation(1, False))
    assert registry.get_version("churn", 1).status is VersionStatus.REJECTED
    registry.save_evaluation(_evaluation(1, None))  # no gates: the status stays
    assert registry.get_version("churn", 1).status is VersionStatus.REJECTED
    stored = registry.list_evaluations("churn", 1)
    assert [e["id"] for e in stored][1:] == [second, first]
    assert stored[-1]["model"] == "churn"
    assert stored[-1]["version"] == 1
    with registry.store.read() as conn:
        edges = {
            (e["edge"], e["dst_kind"], e["dst_id"]) for e in edges_of(conn, ("evaluation", first))
        }
    assert edges == {
        ("consumed", "model_version", "churn/1"),
        ("evaluated_on", "dataset_version", "c/1"),
    }
    kinds = [e.kind for e in registry.list_events(kinds=["model_version.evaluated"])]
    assert len(kinds) == 3


def test_evaluations_do_not_move_approved_versions_unless_asked(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    registry.register(log_package(), "churn")
    registry.save_evaluation(_evaluation(1, False), move_status=False)
    assert registry.get_version("churn", 1).status is VersionStatus.REGISTERED
    registry.save_evaluation(_evaluation(1, True))
    registry.approve("churn", 1)
    registry.save_evaluation(_evaluation(1, False))
    assert registry.get_version("churn", 1).status is VersionStatus.APPROVED


def test_evaluations_store_plain_json(registry: RegistryClient, log_package: LogPackage) -> None:
    registry.register(log_package(), "churn")
    record = _evaluation(1, True, slices={"sex": {"f": {"n": np.int64(3)}}})
    record["metrics"] = {"accuracy": np.float32(0.5), "log_loss": math.nan}
    stored = registry.get_evaluation(registry.save_evaluation(record))
    assert stored["metrics"] == {"accuracy": 0.5, "log_loss": None}
    assert stored["slices"] == {"sex": {"f": {"n": 3}}}
    assert stored["passed"] is True


def test_bad_evaluation_records_name_the_fields(registry: RegistryClient) -> None:
    with pytest.raises(InvalidInputError, match=r"unknown field\(s\) score; missing data"):
        registry.save_evaluation({"model_uri": "runs:/A/model", "target": "y", "task": "x",
                                  "metrics": {}, "score": 1})  # fmt: skip
    with pytest.raises(NotFoundError, match="evaluation 'nope' not found"):
        registry.get_evaluation("nope")
    with pytest.raises(InvalidInputError, match="cannot be stored as JSON"):
        registry.save_evaluation({**_evaluation(1, None), "model_uri": "runs:/A/m",
                                  "metrics": {"x": object()}})  # fmt: skip


def test_an_evaluation_of_a_run_package_links_the_run(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    uri = log_package()
    record = {**_evaluation(1, True), "model_uri": uri}
    evaluation = registry.save_evaluation(record)
    with registry.store.read() as conn:
        [edge] = edges_of(conn, ("evaluation", evaluation), "out")
        [audit] = history(conn, "evaluation", evaluation)
    assert (edge["dst_kind"], edge["dst_id"]) == ("run", parse_uri(uri).name)
    assert audit["action"] == "evaluation.created"


# -- local package folders and real models ------------------------------------------------


def test_a_local_package_folder_is_verified_stored_and_registered(
    registry: RegistryClient, tmp_path: Path
) -> None:
    folder = write_package(tmp_path / "package", b"local weights")
    version = registry.register(folder, "churn")
    assert version.source == str(folder)
    assert version.run_id is None
    assert version.package_digest == manifest_digest(folder)
    with registry.store.read() as conn:
        entries = files_of(conn, locate(conn, parse_uri(version.uri)))
        assert edges_of(conn, version.node) == []
    for entry in entries:  # the blobs are in the artifact store, not only in the folder
        assert registry.artifact_store.get_bytes(entry.digest) == (folder / entry.path).read_bytes()


def test_a_local_folder_that_changed_is_refused_naming_each_file(
    registry: RegistryClient, tmp_path: Path
) -> None:
    folder = write_package(tmp_path / "package", extra={"notes.txt": b"x"})
    (folder / "model.bin").write_bytes(b"tampered")
    with pytest.raises(DigestMismatchError, match=r"model.bin changed.*notes.txt is not part"):
        registry.register(folder, "churn")
    assert registry.list_models() == []


def test_a_real_model_logged_in_a_run_registers_and_loads_back_by_alias(
    registry: RegistryClient, tracking: TrackingClient
) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from loopml._sdk.models import log_model_in_run
    from loopml.registry.loading import load_model

    x, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    run = tracking.create_run("iris")
    info = log_model_in_run(tracking, run.id, model, input_example=x.head(5), register_as="iris")
    assert info.registered is not None
    assert info.registered.package_digest == info.package_digest
    assert info.registered.size_bytes == info.size_bytes
    again = registry.register(info, "iris")
    registry.set_alias("iris", "staging", again.version)
    loaded = load_model("models:/iris@staging", settings=registry.settings)
    assert (loaded.predict(x.head(3)) == model.predict(x.head(3))).all()
