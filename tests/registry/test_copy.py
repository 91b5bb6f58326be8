"""Copying a version between environments: two real SQLite stores, two artifact folders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _registry_packages import write_package

from loopml.config import CONFIG_FILE, Settings
from loopml.data import DatasetClient
from loopml.errors import (
    ConflictError,
    DigestMismatchError,
    GateFailedError,
    InvalidInputError,
    NotFoundError,
)
from loopml.packaging.package import save_package
from loopml.registry.card import model_card
from loopml.registry.client import RegistryClient
from loopml.registry.loading import load_version
from loopml.store.audit import history
from loopml.tracking import TrackingClient

GATE = {"expression": "accuracy >= 0.8", "passed": True}


def _evaluation(uri: str, *, passed: bool = True, gates: list[Any] | None = None) -> dict[str, Any]:
    return {
        "model_uri": uri,
        "data": "datasets:/churn_holdout/1",
        "target": "churned",
        "task": "classification",
        "metrics": {"accuracy": 0.9 if passed else 0.5},
        "gates": gates if gates is not None else [{**GATE, "passed": passed}],
        "passed": passed,
    }


def _profiles(root: Path, *names: str) -> None:
    tables = [
        f'[env.{name}]\ndb_url = "sqlite:///{root}/{name}/loopml.db"\n'
        f'artifacts_url = "{root}/{name}/artifacts"\n'
        for name in names
    ]
    Path(CONFIG_FILE).write_text("\n".join(tables))


@dataclass
class Envs:
    dev: RegistryClient
    staging: RegistryClient
    root: Path

    def client(self, env: str) -> RegistryClient:
        return RegistryClient(Settings.load(env=env))


@pytest.fixture
def envs(tmp_path: Path) -> Envs:
    _profiles(tmp_path, "dev", "staging", "prod")
    return Envs(RegistryClient(Settings.load(env="dev")),
                RegistryClient(Settings.load(env="staging")), tmp_path)  # fmt: skip


@pytest.fixture
def dev_tracking(envs: Envs) -> Iterator[TrackingClient]:
    client = TrackingClient(envs.dev.settings, capture_env=False)
    yield client
    client.close()


@pytest.fixture
def trained(envs: Envs, dev_tracking: TrackingClient, tmp_path: Path) -> int:
    """A real scikit-learn model in dev: trained on a logged dataset, registered, evaluated."""
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    x = np.arange(12.0).reshape(6, 2)
    save_package(LinearRegression().fit(x, x.sum(axis=1)), tmp_path / "pkg", input_example=x)
    run = dev_tracking.create_run("churn")
    dev_tracking.log_artifacts(run.id, tmp_path / "pkg", "model")
    datasets = DatasetClient(envs.dev.settings)
    holdout = datasets.log("churn_holdout", pd.DataFrame({"a": [1, 2, 3], "churned": [0, 1, 0]}))
    datasets.log_input(holdout, run.id)
    version = envs.dev.register(f"runs:/{run.id}/model", "churn", tags={"team": "growth"})
    envs.dev.save_evaluation(_evaluation(version.uri))
    return version.version


def test_a_copy_carries_package_evaluation_lineage_and_tags(envs: Envs, trained: int) -> None:
    copied = envs.dev.copy_version("churn", trained, to=envs.staging, reason="passed in dev")

    source = envs.dev.get_version("churn", trained)
    version = envs.staging.get_version("churn", copied.version.version)
    assert copied.created
    assert copied.copied_from == "dev:models:/churn/1"
    assert copied.env == "staging"
    assert version.uri == "models:/churn/1"
    assert version.status.value == "validated"  # the carried evaluation passed
    assert version.package_digest == source.package_digest
    assert version.source == "dev:models:/churn/1"
    assert version.run_id is None  # the run lives in dev's store
    assert version.tags == {"team": "growth", "copied_from": "dev:models:/churn/1"}

    x = np.arange(12.0).reshape(6, 2)
    loaded = load_version(version, settings=envs.staging.settings)
    np.testing.assert_allclose(loaded.predict(x), x.sum(axis=1))

    [evaluation] = envs.staging.list_evaluations("churn", version.version)
    assert evaluation["id"] == copied.evaluation_id
    assert evaluation["metrics"] == {"accuracy": 0.9}
    assert evaluation["passed"] is True
    assert evaluation["model_uri"] == "models:/churn/1"
    assert evaluation["data"] == "dev:datasets:/churn_holdout/1"
    assert evaluation["notes"][-1].startswith("copied from dev:models:/churn/1 (evaluation ")
    card = model_card(envs.staging, "churn", 1).markdown
    assert "No run to show (copied from `dev:models:/churn/1`;" in card


def test_the_lineage_summary_walks_the_source_upstream(envs: Envs, trained: int) -> None:
    envs.dev.copy_version("churn", trained, to=envs.staging)
    run_id = envs.dev.get_version("churn", trained).run_id

    summary = envs.staging.copy_lineage("churn", 1)

    assert summary["from_env"] == "dev"
    assert summary["to_env"] == "staging"
    assert summary["source"]["uri"] == "dev:models:/churn/1"
    assert summary["source"]["run"] == f"dev:runs:/{run_id}"
    assert summary["evaluation"]["metrics"] == {"accuracy": 0.9}
    [run] = summary["upstream"]
    assert (run["kind"], run["id"], run["edge"], run["uri"]) == (
        "run", run_id, "produced by", f"dev:runs:/{run_id}")  # fmt: skip
    assert [c["uri"] for c in run["children"]] == ["dev:datasets:/churn_holdout/1"]
    with pytest.raises(NotFoundError, match="only a version copied from another environment"):
        envs.dev.copy_lineage("churn", trained)


def test_both_sides_audit_the_copy_and_the_target_has_an_event(envs: Envs, trained: int) -> None:
    envs.dev.copy_version("churn", trained, to=envs.staging, reason="passed in dev")

    with envs.dev.store.read() as conn:
        out = [r for r in history(conn, "model_version", "churn/1")
               if r["action"] == "model_version.copied_out"]  # fmt: skip
    with envs.staging.store.read() as conn:
        into = [r for r in history(conn, "model_version", "churn/1")
                if r["action"] == "model_version.copied_in"]  # fmt: skip
    assert len(out) == len(into) == 1
    assert out[0]["reason"] == into[0]["reason"] == "passed in dev"
    assert out[0]["actor"] == into[0]["actor"]
    assert out[0]["details"]["to"] == "staging:models:/churn/1"
    assert out[0]["details"]["to_env"] == "staging"
    assert into[0]["details"]["from"] == "dev:models:/churn/1"
    assert into[0]["details"]["from_env"] == "dev"
    [event] = envs.staging.list_events(kinds=["model_version.copied_in"])
    assert (event.model, event.version) == ("churn", 1)
    assert event.payload["evaluation"] == envs.staging.list_evaluations("churn", 1)[0]["id"]
    assert [e.kind for e in envs.dev.list_events(kinds=["model_version.copied_out"])] == [
        "model_version.copied_out"
    ]


def test_promotion_in_the_target_follows_the_targets_policy(envs: Envs, trained: int) -> None:
    envs.staging.create_model("churn")
    envs.staging.set_policy("churn", {"gates": ["accuracy >= 0.80"]})  # the evaluated gate
    envs.staging.register(write_package(envs.root / "other", b"v1"), "churn")  # takes 1

    copied = envs.dev.copy_version("churn", trained, to=envs.staging)

    assert copied.version.version == 2
    promoted = envs.staging.promote("churn", 2, reason="carried gates")
    assert promoted.aliases == ("production",)
    envs.staging.set_policy("churn", {"gates": ["recall >= 0.9"]})  # never evaluated
    blockers = envs.staging.promotion_blockers("churn", 2)
    assert blockers == [
        "the latest evaluation of models:/churn/2 "
        f"({copied.evaluation_id}) did not check gate 'recall >= 0.9'; evaluate it again "
        "with the model's policy gates"
    ]


def test_copying_again_returns_the_copy_and_writes_nothing_new(envs: Envs, trained: int) -> None:
    first = envs.dev.copy_version("churn", trained, to=envs.staging)
    events_before = envs.staging.list_events(limit=1000)

    again = envs.dev.copy_version("churn", trained, to=envs.staging)

    assert not again.created
    assert again.version == first.version
    assert again.evaluation_id == first.evaluation_id
    assert again.lineage_digest == first.lineage_digest
    assert [v.version for v in envs.staging.list_versions("churn")] == [1]
    assert envs.staging.list_events(limit=1000) == events_before
    assert len(envs.dev.list_events(kinds=["model_version.copied_out"])) == 1


def test_a_copy_goes_on_to_the_next_environment(envs: Envs, trained: int) -> None:
    envs.dev.copy_version("churn", trained, to=envs.staging)
    prod = envs.client("prod")

    copied = envs.staging.copy_version("churn", 1, to=prod, reason="a week in staging")

    assert copied.copied_from == "staging:models:/churn/1"
    summary = prod.copy_lineage("churn", 1)
    assert summary["source"]["tags"]["copied_from"] == "dev:models:/churn/1"  # the chain
    assert prod.get_version("churn", 1).package_digest == (
        envs.dev.get_version("churn", trained).package_digest
    )


# -- refusals ----------------------------------------------------------------------------


def _nothing_in(client: RegistryClient) -> None:
    assert client.list_models() == []
    root = Path(client.settings.artifacts_url)
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


def test_an_unevaluated_version_is_refused_with_every_reason(envs: Envs) -> None:
    envs.dev.register(write_package(envs.root / "p", b"w"), "churn")

    with pytest.raises(GateFailedError) as caught:
        envs.dev.copy_version("churn", 1, to=envs.staging)

    reasons = caught.value.details["reasons"]
    assert len(reasons) == 2
    assert "has status 'registered'" in reasons[0]
    assert reasons[1].startswith("no evaluation of models:/churn/1 checked any gates")
    assert "cannot copy models:/churn/1 out of environment 'dev'" in str(caught.value)
    _nothing_in(envs.staging)


def test_a_version_that_failed_its_gates_is_refused(envs: Envs) -> None:
    version = envs.dev.register(write_package(envs.root / "p", b"w"), "churn")
    failed = {**GATE, "passed": False, "reason": "accuracy 0.5 < 0.8"}
    envs.dev.save_evaluation(_evaluation(version.uri, passed=False, gates=[failed]))

    with pytest.raises(GateFailedError) as caught:
        envs.dev.copy_version("churn", 1, to=envs.staging)

    reasons = caught.value.details["reasons"]
    assert "has status 'rejected'" in reasons[0]
    assert reasons[1].endswith("did not pass: accuracy 0.5 < 0.8")
    _nothing_in(envs.staging)


def test_the_source_policy_gates_must_have_been_checked(envs: Envs, trained: int) -> None:
    envs.dev.set_policy("churn", {"gates": ["accuracy >= 0.8", "f1 >= 0.7"]})

    with pytest.raises(GateFailedError, match=r"did not check gate 'f1 >= 0\.7'"):
        envs.dev.copy_version("churn", trained, to=envs.staging)


def test_a_validated_status_set_by_hand_is_not_enough(envs: Envs) -> None:
    envs.dev.register(write_package(envs.root / "p", b"w"), "churn")
    envs.dev.set_status("churn", 1, "validated")  # no evaluation behind it

    with pytest.raises(GateFailedError) as caught:
        envs.dev.copy_version("churn", 1, to=envs.staging)

    assert caught.value.details["reasons"] == [
        "no evaluation of models:/churn/1 checked any gates; evaluate it with gates "
        "(loopml.evaluate('models:/churn/1', data, target, gates=[...])) so there is a "
        "result to carry"
    ]


def test_an_archived_version_is_refused(envs: Envs, trained: int) -> None:
    envs.dev.archive("churn", trained, reason="superseded")

    with pytest.raises(GateFailedError, match="models:/churn/1 is archived"):
        envs.dev.copy_version("churn", trained, to=envs.staging)
    _nothing_in(envs.staging)


def test_a_forged_copied_from_tag_is_a_conflict(envs: Envs, trained: int) -> None:
    forged = {"copied_from": "dev:models:/churn/1"}
    envs.staging.register(write_package(envs.root / "other", b"other"), "churn", tags=forged)

    with pytest.raises(ConflictError, match="holds another package"):
        envs.dev.copy_version("churn", trained, to=envs.staging)

    envs.staging.update_version("churn", 1, tags={"copied_from": None})
    assert envs.dev.copy_version("churn", trained, to=envs.staging).version.version == 2


def test_the_same_package_tagged_by_hand_is_not_taken_for_the_copy(
    envs: Envs, trained: int, tmp_path: Path
) -> None:
    # The same bytes registered in staging directly, then tagged to look like the copy.
    envs.staging.register(tmp_path / "pkg", "churn", tags={"copied_from": "dev:models:/churn/1"})

    with pytest.raises(ConflictError, match="was not made by copying it"):
        envs.dev.copy_version("churn", trained, to=envs.staging)


def test_a_corrupt_source_file_is_refused_and_nothing_is_registered(
    envs: Envs, trained: int
) -> None:
    version = envs.dev.get_version("churn", trained)
    manifest = json.loads(envs.dev.artifact_store.get_bytes(version.package_digest))
    digest = max(manifest["files"].values(), key=lambda f: f["size"])["sha256"]
    victim = Path(envs.dev.settings.artifacts_url) / "blobs" / digest[:2] / digest[2:]
    victim.chmod(0o644)
    victim.write_bytes(b"tampered" + victim.read_bytes()[8:])

    with pytest.raises(DigestMismatchError, match=digest):
        envs.dev.copy_version("churn", trained, to=envs.staging)
    assert envs.staging.list_models() == []  # blobs copied before it are left to `loopml gc`
    assert not envs.staging.artifact_store.exists(digest)


@pytest.mark.parametrize("case", ["same-env", "same-db", "unnamed"])
def test_a_copy_needs_two_named_stores(envs: Envs, trained: int, case: str) -> None:
    target = {
        "same-env": lambda: envs.client("dev"),
        "same-db": lambda: RegistryClient(
            Settings.load(env="staging", db_url=envs.dev.settings.db_url)
        ),
        "unnamed": lambda: RegistryClient(Settings.load(home=envs.root / "plain")),
    }[case]()

    with pytest.raises(InvalidInputError) as caught:
        envs.dev.copy_version("churn", trained, to=target)

    message = str(caught.value)
    assert ("name none" in message) if case == "unnamed" else ("same registry" in message)


def test_concurrent_copies_make_one_version(envs: Envs, trained: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def copy(_: int) -> tuple[int, bool]:
        target = envs.client("staging")  # each its own client, as separate processes would
        copied = envs.dev.copy_version("churn", trained, to=target)
        return copied.version.version, copied.created

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(copy, range(4)))

    assert {number for number, _ in results} == {1}
    assert sum(created for _, created in results) == 1
    assert [v.version for v in envs.staging.list_versions("churn")] == [1]
    assert len(envs.staging.list_events(kinds=["model_version.copied_in"])) == 1
    assert len(envs.dev.list_events(kinds=["model_version.copied_out"])) == 1


def test_a_copy_into_each_database_backend(envs: Envs, trained: int, db_url: str) -> None:
    target = RegistryClient(Settings.load(env="staging", db_url=db_url))

    first = envs.dev.copy_version("churn", trained, to=target)
    again = envs.dev.copy_version("churn", trained, to=target)

    assert first.version.status.value == "validated"
    assert target.get_version("churn", 1).tags["copied_from"] == "dev:models:/churn/1"
    assert target.copy_lineage("churn", 1)["source"]["uri"] == "dev:models:/churn/1"
    assert (again.created, again.version) == (False, first.version)
