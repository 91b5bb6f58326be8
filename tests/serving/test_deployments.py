"""Deployments as records: CRUD, paging, history, audit, lineage, served ranges, bad input."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from _serving_models import ModelVersions

from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.registry.client import RegistryClient
from loopml.serving.deployments import DeploymentClient
from loopml.serving.policy import PayloadLogSettings, Resources, Route, TrafficPolicy
from loopml.store.audit import history as audit_history
from loopml.store.lineage import edges_of

CANARY = TrafficPolicy(
    routes=(Route(alias="production", weight=90), Route(alias="challenger", weight=10))
)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Deployments are store records: these tests run over each database backend."""
    return Settings.load(home=tmp_path / "home", db_url=db_url)


@pytest.fixture
def churn(versions: ModelVersions) -> ModelVersions:
    """``churn`` with v1 in production and v2 as challenger."""
    versions.sklearn()
    versions.sklearn(depth=2)
    versions.promote("churn", 1)
    versions.promote("churn", 2, "challenger")
    return versions


def test_create_get_and_the_first_revision(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    made = deployments.create(
        "churn-api",
        "churn",
        TrafficPolicy.follow("production"),
        payload_log=PayloadLogSettings(sample_rate=0.5, log_inputs=False),
        resources=Resources(workers=2, max_batch_size=16),
        description="churn scores for the CRM",
    )
    assert made.revision == 1
    got = deployments.get("churn-api")
    assert got == made
    assert got.policy.routes[0].target == "@production"
    assert got.payload_log == PayloadLogSettings(sample_rate=0.5, log_inputs=False)
    assert got.resources.workers == 2
    assert got.resources.max_batch_size == 16
    assert deployments.resolve(got) == {"@production": 1}
    assert got.to_dict()["policy"]["routes"][0]["alias"] == "production"


def test_create_refuses_a_name_taken_and_unsafe_names(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    with pytest.raises(ConflictError, match="'churn-api' already exists"):
        deployments.create("churn-api", "churn", TrafficPolicy.pinned(2))
    for bad in ["../etc", "churn api", "9lives", "", "a" * 101, "models:/churn@production"]:
        with pytest.raises(InvalidInputError, match="deployment name"):
            deployments.create(bad, "churn", TrafficPolicy.follow("production"))
    assert [d.name for d in deployments.list_deployments().items] == ["churn-api"]


def test_create_names_the_missing_model_alias_or_version_with_what_exists(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    with pytest.raises(NotFoundError, match="model 'chrun' not found; did you mean: churn"):
        deployments.create("a", "chrun", TrafficPolicy.follow("production"))
    with pytest.raises(NotFoundError, match=r"churn@prod' not found; did you mean: churn@pro"):
        deployments.create("a", "churn", TrafficPolicy.follow("prod"))
    with pytest.raises(NotFoundError, match="@challenger \\(v2\\), @production \\(v1\\)"):
        deployments.create("a", "churn", TrafficPolicy.follow("staging"))
    with pytest.raises(NotFoundError, match="versions of 'churn': 1-2"):
        deployments.create("a", "churn", TrafficPolicy.pinned(7))
    for huge in (2**31, 2**63, 10**30):
        with pytest.raises(InvalidInputError, match=f"version {huge} is out of range"):
            deployments.create("a", "churn", TrafficPolicy.pinned(huge))
    shadowed = TrafficPolicy(routes=(Route(alias="production"),), shadow=Route(alias="nope"))
    with pytest.raises(NotFoundError, match="churn@nope"):
        deployments.create("a", "churn", shadowed)
    for hostile in [{"routes": "x"}, {"routes": [3]}, {"routes": [{"alias": ["a"]}]}]:
        with pytest.raises(InvalidInputError):
            deployments.create("a", "churn", hostile)
    with pytest.raises(InvalidInputError, match="keep it under 10000"):
        deployments.create("a", "churn", TrafficPolicy.pinned(1), description="x" * 10_001)
    with pytest.raises(InvalidInputError, match="payload_log must be a PayloadLogSettings"):
        deployments.create("a", "churn", TrafficPolicy.pinned(1), payload_log={"x": 1})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="must be a TrafficPolicy"):
        deployments.create("a", "churn", "@production")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="there are no deployments yet"):
        deployments.get("a")


def test_an_archived_version_cannot_be_pinned(
    deployments: DeploymentClient, churn: ModelVersions, registry: RegistryClient
) -> None:
    churn.sklearn()
    registry.archive("churn", 3)
    with pytest.raises(InvalidInputError, match="models:/churn/3 is archived"):
        deployments.create("a", "churn", TrafficPolicy.pinned(3))


def test_update_changes_everything_given_in_one_revision_and_keeps_history(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    updated = deployments.update(
        "churn-api",
        policy=CANARY,
        payload_log=PayloadLogSettings(sample_rate=0.1),
        resources=Resources(device="cuda:0"),
        description="canary",
        reason="try v2 on 10%",
    )
    assert updated.revision == 2
    assert updated.policy == CANARY
    assert updated.resources.device == "cuda:0"
    assert deployments.get("churn-api") == updated
    history = deployments.history("churn-api")
    assert [(r.revision, r.action) for r in history] == [(1, "created"), (2, "updated")]
    assert history[0].policy == TrafficPolicy.follow("production")
    assert history[1].policy == CANARY
    assert history[1].reason == "try v2 on 10%"
    assert history[1].payload_log.sample_rate == 0.1


def test_update_with_nothing_new_makes_no_revision_and_with_nothing_is_refused(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    same = deployments.update("churn-api", policy=TrafficPolicy.follow("production"))
    assert same.revision == 1
    with pytest.raises(InvalidInputError, match="nothing to change"):
        deployments.update("churn-api")
    with pytest.raises(InvalidInputError, match="resources must be a Resources, got dict"):
        deployments.update("churn-api", resources={"workers": 2})  # type: ignore[arg-type]
    cleared = deployments.update("churn-api", description="x")
    assert deployments.update("churn-api", description=None).description is None
    assert cleared.revision == 2
    assert deployments.get("churn-api").revision == 3


def test_a_stale_expected_revision_is_a_conflict_and_changes_nothing(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    deployments.set_traffic("churn-api", CANARY, expected_revision=1)
    with pytest.raises(ConflictError, match="at revision 2, not 1") as caught:
        deployments.set_traffic("churn-api", TrafficPolicy.pinned(1), expected_revision=1)
    assert caught.value.details == {"revision": 2, "expected": 1}
    assert deployments.get("churn-api").policy == CANARY
    with pytest.raises(InvalidInputError, match="expected_revision must be"):
        deployments.set_traffic("churn-api", CANARY, expected_revision="2")  # type: ignore[arg-type]


def test_concurrent_set_traffic_with_the_same_expected_revision_lets_one_win(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    outcomes: list[str] = []

    def controller(policy: TrafficPolicy) -> None:
        try:
            deployments.set_traffic("churn-api", policy, expected_revision=1)
            outcomes.append("won")
        except ConflictError:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=controller, args=(policy,))
        for policy in (CANARY, TrafficPolicy.pinned(2), TrafficPolicy.pinned(1))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "won"]
    assert [r.revision for r in deployments.history("churn-api")] == [1, 2]


def test_concurrent_creates_of_one_name_let_one_win(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    outcomes: list[str] = []

    def create(version: int) -> None:
        try:
            deployments.create("churn-api", "churn", TrafficPolicy.pinned(version))
            outcomes.append("created")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create, args=(v,)) for v in (1, 2, 1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "created"]
    assert [r.revision for r in deployments.history("churn-api")] == [1]


def test_a_policy_naming_a_missing_alias_is_refused_on_update(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    with pytest.raises(NotFoundError, match="churn@canary"):
        deployments.set_traffic("churn-api", TrafficPolicy.follow("canary"))
    with pytest.raises(NotFoundError, match="deployment 'churn-ap' not found; did you mean"):
        deployments.set_traffic("churn-ap", CANARY)
    assert deployments.get("churn-api").revision == 1


def test_list_pages_by_name_and_filters_by_model(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    churn.sklearn("fraud")
    for name in ["d-03", "d-01", "d-05", "d-02", "d-04"]:
        deployments.create(name, "churn", TrafficPolicy.pinned(1))
    deployments.create("fraud-api", "fraud", TrafficPolicy.pinned(1))
    first = deployments.list_deployments(limit=2)
    assert [d.name for d in first.items] == ["d-01", "d-02"]
    second = deployments.list_deployments(limit=2, page_token=first.next_page_token)
    third = deployments.list_deployments(limit=2, page_token=second.next_page_token)
    assert [d.name for d in second.items + third.items] == ["d-03", "d-04", "d-05", "fraud-api"]
    assert third.next_page_token is None
    assert [d.name for d in deployments.list_deployments(model="fraud").items] == ["fraud-api"]
    with pytest.raises(InvalidInputError, match="limit must be"):
        deployments.list_deployments(limit=0)
    with pytest.raises(InvalidInputError, match="page_token"):
        deployments.list_deployments(page_token="not-a-token")


def test_every_change_writes_an_audit_row_and_lineage_to_the_versions(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    deployments.set_traffic("churn-api", CANARY, reason="canary v2")
    deployments.delete("churn-api", reason="retired")
    with deployments.store.read() as conn:
        rows = audit_history(conn, "deployment", "churn-api")
        edges = edges_of(conn, ("deployment", "churn-api"), "out")
    actions = [row["action"] for row in rows]
    assert actions == ["deployment.created", "deployment.traffic", "deployment.deleted"]
    assert rows[1]["reason"] == "canary v2"
    assert rows[1]["details"]["targets"] == {"@production": 1, "@challenger": 2}
    served = {(e["edge"], e["dst_kind"], e["dst_id"]) for e in edges}
    assert served == {
        ("consumed", "model_version", "churn/1"),
        ("consumed", "model_version", "churn/2"),
    }


def test_delete_keeps_history_and_a_new_deployment_of_the_name_numbers_on(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    gone = deployments.delete("churn-api")
    assert gone.revision == 1
    with pytest.raises(NotFoundError):
        deployments.get("churn-api")
    with pytest.raises(NotFoundError):
        deployments.delete("churn-api")
    again = deployments.create("churn-api", "churn", TrafficPolicy.pinned(2))
    assert again.revision == 3
    actions = [(r.revision, r.action) for r in deployments.history("churn-api")]
    assert actions == [(1, "created"), (2, "deleted"), (3, "created")]
    with pytest.raises(NotFoundError, match="deployment 'nope'"):
        deployments.history("nope")


def test_record_served_keeps_time_ranges_and_is_idempotent(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", CANARY)
    deployments.record_served("churn-api", {"@production": 1, "@challenger": 2}, 1_000)
    deployments.record_served("churn-api", {"@production": 1, "@challenger": 2}, 1_500)  # again
    deployments.record_served("churn-api", {"@production": 2, "@challenger": 2}, 2_000)
    deployments.record_served("churn-api", {"@production": 1}, 1_800)  # a slower replica
    deployments.record_served("churn-api", {"@production": 2}, 3_000)  # canary over
    ranges = [
        (r.target, r.version, r.started_at, r.ended_at)
        for r in deployments.served_versions("churn-api")
    ]
    assert ranges == [
        ("@challenger", 2, 1_000, 3_000),
        ("@production", 1, 1_000, 2_000),
        ("@production", 2, 2_000, None),
    ]
    production = deployments.served_versions("churn-api", target="@production")
    assert [r.uri for r in production] == ["models:/churn/1", "models:/churn/2"]
    with deployments.store.read() as conn:
        edges = edges_of(conn, ("deployment", "churn-api"), "out")
    froms = sorted(
        (e["attributes"]["target"], e["attributes"]["served_from"], e["dst_id"])
        for e in edges
        if e["attributes"] and "served_from" in e["attributes"]
    )
    assert froms == [
        ("@challenger", 1_000, "churn/2"),
        ("@production", 1_000, "churn/1"),
        ("@production", 2_000, "churn/2"),
    ]
    deployments.delete("churn-api")
    assert all(r.ended_at is not None for r in deployments.served_versions("churn-api"))


def test_record_served_refuses_bad_input(
    deployments: DeploymentClient, churn: ModelVersions
) -> None:
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    for bad in [{"@production": 0}, {"@production": "1"}, {"@production": 2**63}, {"": 1}]:
        with pytest.raises(InvalidInputError):
            deployments.record_served("churn-api", bad, 1_000)  # type: ignore[arg-type]
    for at in [-1, 2**63, 1.5, True]:
        with pytest.raises(InvalidInputError, match="at_ms"):
            deployments.record_served("churn-api", {"@production": 1}, at)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        deployments.record_served("nope", {"@production": 1}, 1_000)
    assert deployments.served_versions("churn-api") == []
