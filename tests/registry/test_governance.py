"""Governance: policies, roles, approvals, and promotion refused for every reason."""

from __future__ import annotations

import pytest
from _registry_packages import LogPackage

from loopml.errors import (
    ConflictError,
    GateFailedError,
    InvalidInputError,
    NotFoundError,
    UnauthorizedError,
)
from loopml.registry.client import RegistryClient
from loopml.registry.models import PromotionPolicy, VersionStatus
from loopml.store.audit import history
from loopml.store.lineage import edges_of

GATES = ("accuracy >= 0.9", "f1 >= champion - 0.01")


def _register(registry: RegistryClient, log_package: LogPackage, count: int = 1) -> None:
    for _ in range(count):
        registry.register(log_package(), "churn")


def _evaluate(
    registry: RegistryClient, version: int, results: dict[str, bool], **gate: object
) -> str:
    """Store an evaluation whose gates had these results (as loopml.evaluate would)."""
    gates = [
        {"expression": expression, "passed": passed, "skipped": False,
         "reason": None if passed else f"{expression.split()[0]} was 0.5", **gate}
        for expression, passed in results.items()
    ]  # fmt: skip
    return registry.save_evaluation(
        {
            "model_uri": f"models:/churn/{version}",
            "data": "datasets:/churn/1",
            "target": "left",
            "task": "classification",
            "metrics": {"accuracy": 0.93, "f1": 0.9},
            "gates": gates,
            "passed": all(results.values()),
        }
    )


# -- policies and roles ----------------------------------------------------------------


def test_a_model_starts_with_the_default_policy_and_keeps_the_one_set(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    assert registry.get_policy("churn") == PromotionPolicy()
    policy = PromotionPolicy(gates=GATES, require_approval=True, approver_role="ml-lead")
    assert registry.set_policy("churn", policy) == policy
    assert registry.get_policy("churn") == policy
    assert registry.get_model("churn").policy == policy
    [event] = registry.list_events(kinds=["policy.updated"])
    assert event.payload["new"]["approver_role"] == "ml-lead"
    as_dict = registry.set_policy("churn", {"gates": ["infra"], "protected_aliases": ["prod"]})
    assert as_dict.protected_aliases == ("prod",)


def test_a_policy_that_protects_no_alias_is_kept_as_set(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    registry.set_policy("churn", PromotionPolicy(protected_aliases=()))
    assert registry.get_policy("churn").protected_aliases == ()
    registry.set_alias("churn", "production", 1)  # nothing protects it now
    assert registry.get_version("churn", 1).aliases == ("production",)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (PromotionPolicy(gates="accuracy >= 0.9"), r"write gates=\('accuracy >= 0.9',\)"),  # type: ignore[arg-type]
        (PromotionPolicy(gates=("",)), "non-empty expression"),
        (PromotionPolicy(approver_role="ml lead"), "role 'ml lead' is not valid"),
        (PromotionPolicy(protected_aliases=("2",)), "alias '2' is not valid"),
        ("strict", "must be a PromotionPolicy"),
    ],
)
def test_bad_policies_are_refused(
    registry: RegistryClient, log_package: LogPackage, policy: object, message: str
) -> None:
    _register(registry, log_package)
    with pytest.raises(InvalidInputError, match=message):
        registry.set_policy("churn", policy)  # type: ignore[arg-type]


def test_roles_are_granted_once_listed_and_revoked(registry: RegistryClient) -> None:
    first = registry.grant_role("ana", "ml-lead")
    assert registry.grant_role("ana", "ml-lead") == first
    registry.grant_role("bo", "reviewer")
    assert [(g.user, g.role) for g in registry.list_roles()] == [
        ("ana", "ml-lead"),
        ("bo", "reviewer"),
    ]
    assert [g.role for g in registry.list_roles("ana")] == ["ml-lead"]
    registry.revoke_role("ana", "ml-lead")
    with pytest.raises(NotFoundError, match="roles of 'ana': none"):
        registry.revoke_role("ana", "ml-lead")
    with pytest.raises(InvalidInputError, match="is not valid"):
        registry.grant_role("ana", "ml lead")
    kinds = [(e.kind, e.model, e.payload["user"]) for e in registry.list_events()]
    assert kinds == [
        ("role.granted", "", "ana"),
        ("role.granted", "", "bo"),
        ("role.revoked", "", "ana"),
    ]
    with registry.store.read() as conn:
        assert [r["action"] for r in history(conn, "role", "ana:ml-lead")] == [
            "role.granted",
            "role.revoked",
        ]


# -- approvals -------------------------------------------------------------------------


def test_only_a_validated_version_can_be_approved(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    with pytest.raises(ConflictError, match=r"has status 'registered'.*evaluate it first"):
        registry.approve("churn", 1)
    registry.set_status("churn", 1, "validated")
    approval = registry.approve("churn", 1, comment="slices look fine", actor="ana")
    assert (approval.decision, approval.actor, approval.role) == ("approved", "ana", None)
    assert registry.get_version("churn", 1).status is VersionStatus.APPROVED
    registry.approve("churn", 1, actor="bo")  # approving again adds a decision
    assert [a.actor for a in registry.list_approvals("churn", 1)] == ["ana", "bo"]


def test_the_policy_role_decides_who_may_approve(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    registry.set_policy("churn", PromotionPolicy(require_approval=True, approver_role="ml-lead"))
    registry.set_status("churn", 1, "validated")
    with pytest.raises(
        UnauthorizedError, match=r"requires role 'ml-lead'.*loopml models roles grant bo ml-lead"
    ):
        registry.approve("churn", 1, actor="bo")
    registry.grant_role("ana", "ml-lead")
    approval = registry.approve("churn", 1, actor="ana")
    assert approval.role == "ml-lead"
    [event] = registry.list_events(kinds=["model_version.approved"])
    assert (event.actor, event.payload["role"]) == ("ana", "ml-lead")


def test_a_rejection_needs_a_comment_and_rejects(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    with pytest.raises(InvalidInputError, match="needs a comment saying why"):
        registry.reject("churn", 1, comment="  ")
    rejection = registry.reject("churn", 1, comment="recall on new customers is 0.4")
    assert rejection.decision == "rejected"
    assert registry.get_version("churn", 1).status is VersionStatus.REJECTED
    [stored] = registry.list_approvals("churn", 1)
    assert stored.comment == "recall on new customers is 0.4"
    [event] = registry.list_events(kinds=["model_version.rejected"])
    assert event.payload["comment"] == "recall on new customers is 0.4"


# -- promotion refused, with every reason -----------------------------------------------


def test_a_registered_version_is_blocked_until_evaluated(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    [reason] = registry.promotion_blockers("churn", 1)
    assert "has status 'registered'" in reason
    assert "loopml.evaluate('models:/churn/1', data, target)" in reason


def test_missing_failed_and_incomplete_evaluations_block_promotion(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package, 3)
    registry.set_policy("churn", PromotionPolicy(gates=GATES))
    registry.set_status("churn", 1, "validated")  # by hand: no evaluation at all
    [missing] = registry.promotion_blockers("churn", 1)
    assert "no evaluation of models:/churn/1 checked the policy gates" in missing

    evaluation = _evaluate(registry, 2, {"accuracy >= 0.9": False, "f1>=champion-0.01": True})
    reasons = registry.promotion_blockers("churn", 2)
    assert reasons[0].startswith("models:/churn/2 has status 'rejected'")
    assert (
        reasons[1] == f"gate 'accuracy >= 0.9' failed in evaluation {evaluation}: accuracy was 0.5"
    )

    # Spacing and the spelling of numbers do not matter: 0.90 is the policy's 0.9.
    partial = _evaluate(registry, 3, {"accuracy  >=  0.90": True})
    [uncovered] = registry.promotion_blockers("churn", 3)
    assert uncovered == (
        f"the latest evaluation of models:/churn/3 ({partial}) did not check gate "
        "'f1 >= champion - 0.01'; evaluate it again with the model's policy gates"
    )
    _evaluate(registry, 3, dict.fromkeys(GATES, True))
    assert registry.promotion_blockers("churn", 3) == []


def test_a_skipped_champion_gate_does_not_block(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    registry.set_policy("churn", PromotionPolicy(gates=GATES))
    registry.save_evaluation(
        {
            "model_uri": "models:/churn/1", "data": "d", "target": "y", "task": "classification",
            "metrics": {"accuracy": 0.95},
            "gates": [
                {"expression": "accuracy >= 0.9", "passed": True, "skipped": False},
                {"expression": "f1 >= champion - 0.01", "passed": None, "skipped": True,
                 "reason": "no champion: models:/churn@production does not exist"},
            ],
            "passed": True,
        }
    )  # fmt: skip
    assert registry.promotion_blockers("churn", 1) == []


def test_missing_and_wrong_role_approvals_block_promotion(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    registry.set_policy("churn", PromotionPolicy(require_approval=True))
    registry.set_status("churn", 1, "validated")
    [missing] = registry.promotion_blockers("churn", 1)
    assert missing.startswith("models:/churn/1 needs an approval;")
    registry.approve("churn", 1, actor="bo")
    assert registry.promotion_blockers("churn", 1) == []
    registry.set_policy("churn", PromotionPolicy(require_approval=True, approver_role="ml-lead"))
    [wrong] = registry.promotion_blockers("churn", 1)
    assert "approved by 'bo', who does not hold role 'ml-lead'" in wrong
    registry.grant_role("bo", "ml-lead")
    assert registry.promotion_blockers("churn", 1) == []


def test_promote_lists_every_blocker_and_changes_nothing(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    policy = PromotionPolicy(gates=GATES, require_approval=True, approver_role="ml-lead")
    registry.set_policy("churn", policy)
    with pytest.raises(
        GateFailedError, match=r"cannot promote models:/churn/1 to churn@production"
    ) as err:
        registry.promote("churn", 1)
    reasons = err.value.details["reasons"]
    assert len(reasons) == 3
    assert "has status 'registered'" in reasons[0]
    assert "no evaluation" in reasons[1]
    assert "needs an approval from someone with role 'ml-lead'" in reasons[2]
    assert registry.get_model("churn").aliases == {}
    assert registry.list_events(kinds=["model_version.promoted"]) == []


def test_an_archived_version_is_blocked_for_that_reason_alone(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    registry.archive("churn", 1)
    assert registry.promotion_blockers("churn", 1) == [
        "models:/churn/1 is archived; register the package again to promote it"
    ]


# -- promotion that succeeds -----------------------------------------------------------


def test_promote_deploys_moves_the_alias_and_links_the_versions(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package, 2)
    registry.set_policy("churn", PromotionPolicy(gates=GATES, require_approval=True))
    for version in (1, 2):
        _evaluate(registry, version, dict.fromkeys(GATES, True))
        registry.approve("churn", version, actor="ana")
    first = registry.promote("churn", 1, reason="first model")
    assert (first.status, first.aliases) == (VersionStatus.DEPLOYED, ("production",))
    second = registry.promote("churn", 2, reason="better recall")
    assert second.aliases == ("production",)
    assert registry.resolve("models:/churn@production").version == 2
    moves = registry.list_alias_changes("churn", "production")
    assert [(m.previous_version, m.version, m.reason) for m in moves] == [
        (None, 1, "first model"),
        (1, 2, "better recall"),
    ]
    with registry.store.read() as conn:
        [edge] = edges_of(conn, second.node, "out")
        assert edges_of(conn, first.node, "out") == []
    assert (edge["edge"], edge["dst_id"], edge["attributes"]) == (
        "promoted_from",
        "churn/1",
        {"alias": "production"},
    )
    [event, _] = reversed(registry.list_events(kinds=["model_version.promoted"]))
    assert event.payload == {
        "alias": "production", "previous_version": 1, "from": "approved", "reason": "better recall"
    }  # fmt: skip
    assert (
        registry.get_version("churn", 1).status is VersionStatus.DEPLOYED
    )  # it served: a rollback may bring it back
    rollback = registry.promote("churn", 1, reason="rollback")
    assert rollback.aliases == ("production",)


def test_promote_can_archive_the_version_it_replaces(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package, 3)
    for version in (1, 2, 3):
        registry.set_status("churn", version, "validated")
    registry.promote("churn", 1)
    registry.promote("churn", 2, archive_previous=True)
    assert registry.get_version("churn", 1).status is VersionStatus.ARCHIVED
    registry.set_alias("churn", "canary", 2)
    with pytest.raises(ConflictError, match=r"churn@canary point\(s\) at it"):
        registry.promote("churn", 3, archive_previous=True)
    assert registry.resolve("models:/churn@production").version == 2  # rolled back whole
    assert registry.get_version("churn", 3).status is VersionStatus.VALIDATED


def test_promote_to_another_alias_and_bad_alias_names(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _register(registry, log_package)
    registry.set_status("churn", 1, "validated")
    assert registry.promote("churn", 1, alias="champion-eu").aliases == ("champion-eu",)
    with pytest.raises(InvalidInputError, match="starts with a letter"):
        registry.promote("churn", 1, alias="1")
