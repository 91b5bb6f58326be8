"""Governance: promotion policies, roles, approvals, and why a promotion is refused.

A model's :class:`~loopml.registry.models.PromotionPolicy` names the gates its latest
evaluation must have passed, whether a human must approve, and which role that approver
must hold. :func:`promotion_blockers` lists *every* reason a version may not be promoted
yet, so one refusal tells the whole story.

Example:
    >>> normalize_gate("  accuracy   >=0.9 ") == normalize_gate("accuracy >= 0.9")
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from loopml.errors import InvalidInputError, NotFoundError, UnauthorizedError
from loopml.registry._records import Row, to_approval
from loopml.registry.aliases import check_alias
from loopml.registry.models import Approval, PromotionPolicy, RoleGrant, VersionStatus
from loopml.store.schema import approvals, model_evaluations, roles
from loopml.uris import model_uri

__all__ = [
    "PROMOTABLE",
    "authorize",
    "check_policy",
    "check_role",
    "check_user",
    "copy_blockers",
    "decisions",
    "grant",
    "holds_role",
    "latest_gated_evaluation",
    "list_roles",
    "normalize_gate",
    "policy_of",
    "promotion_blockers",
    "record_decision",
    "revoke",
]

_ROLE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
_MAX_ROLE = 64
_MAX_USER = 250
_R = roles.c
_AP = approvals.c
_EV = model_evaluations.c
_V = VersionStatus
# Statuses a version may be promoted from (deployed: a rollback to a version that served).
PROMOTABLE = frozenset({_V.VALIDATED, _V.APPROVED, _V.DEPLOYED})


def check_role(role: object) -> str:
    """``role`` if it can be a role name (``ml-lead``), else an error showing the rule."""
    if not isinstance(role, str) or not _ROLE.fullmatch(role) or len(role) > _MAX_ROLE:
        raise InvalidInputError(
            f"role {role!r} is not valid; a role starts with a letter and holds letters, "
            f"digits, '_', '.' and '-' (at most {_MAX_ROLE} characters), e.g. 'ml-lead'"
        )
    return role


def check_user(user: object) -> str:
    """``user`` if it is a non-empty name."""
    if not isinstance(user, str) or not user.strip() or len(user) > _MAX_USER:
        raise InvalidInputError(f"user must be a non-empty name, got {user!r}")
    return user


_NUMBER = re.compile(r"(?<![A-Za-z_.\d])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")


def normalize_gate(expression: str) -> str:
    """A gate expression in one spelling, to compare a policy's gate with an evaluation's.

    Whitespace goes and numbers are written one way, so ``accuracy >= 0.90`` and
    ``accuracy>=0.9`` are the same gate.

    Example:
        >>> normalize_gate("accuracy >= 0.90") == normalize_gate("accuracy>=0.9")
        True
    """
    compact = "".join(expression.split())
    return _NUMBER.sub(lambda match: repr(float(match.group())), compact)


def check_policy(policy: object) -> PromotionPolicy:
    """``policy`` (a PromotionPolicy or its dict form) with every field checked."""
    if isinstance(policy, Mapping):
        policy = PromotionPolicy.from_dict(dict(policy))
    if not isinstance(policy, PromotionPolicy):
        raise InvalidInputError(
            f"policy must be a PromotionPolicy, got {type(policy).__name__}; e.g. "
            "PromotionPolicy(gates=('accuracy >= 0.9',), require_approval=True)"
        )
    gates: object = policy.gates  # a caller may pass one string where a tuple belongs
    if isinstance(gates, str):
        raise InvalidInputError(
            f"policy gates must be a list of expressions, got the string {gates!r}; "
            f"write gates=({gates!r},)"
        )
    for gate in policy.gates:
        if not isinstance(gate, str) or not gate.strip():
            raise InvalidInputError(
                f"policy gate {gate!r} must be a non-empty expression like 'accuracy >= 0.9'"
            )
    if policy.approver_role is not None:
        check_role(policy.approver_role)
    for alias in policy.protected_aliases:
        check_alias(alias)
    return PromotionPolicy(
        gates=tuple(gate.strip() for gate in policy.gates),
        require_approval=bool(policy.require_approval),
        approver_role=policy.approver_role,
        protected_aliases=tuple(dict.fromkeys(policy.protected_aliases)),
    )


def policy_of(model_row: Row) -> PromotionPolicy:
    """The policy stored on a ``registered_models`` row (the default when none is)."""
    return PromotionPolicy.from_dict(model_row["policy"])


# -- roles -----------------------------------------------------------------------------


def holds_role(conn: Connection, user: str, role: str) -> bool:
    """Whether ``user`` holds ``role``."""
    found = conn.execute(select(_R.role).where(_R.user == user, _R.role == role)).first()
    return found is not None


def list_roles(conn: Connection, user: str | None = None) -> list[RoleGrant]:
    """Every grant (of one user), by user then role."""
    query = select(roles)
    if user is not None:
        query = query.where(_R.user == user)
    rows = conn.execute(query.order_by(_R.user, _R.role)).mappings()
    return [RoleGrant(r["user"], r["role"], r["granted_at"], r["granted_by"]) for r in rows]


def grant(conn: Connection, user: str, role: str, *, actor: str, at: int) -> RoleGrant | None:
    """Give ``user`` ``role``; ``None`` when they already hold it (nothing written)."""
    if holds_role(conn, user, role):
        return None
    conn.execute(roles.insert().values(user=user, role=role, granted_at=at, granted_by=actor))
    return RoleGrant(user, role, at, actor)


def revoke(conn: Connection, user: str, role: str) -> None:
    """Take ``role`` from ``user`` (NotFoundError listing the roles they hold)."""
    deleted = conn.execute(delete(roles).where(_R.user == user, _R.role == role)).rowcount
    if not deleted:
        held = [g.role for g in list_roles(conn, user)]
        raise NotFoundError(
            "role grant",
            f"{user}:{role}",
            choices=[f"{user}:{r}" for r in held],
            hint=f"roles of '{user}': {', '.join(held) or 'none'}",
        )


def authorize(
    conn: Connection, policy: PromotionPolicy, actor: str, uri: str, action: str
) -> str | None:
    """The role ``actor`` decides with; UnauthorizedError when the policy's role is missing."""
    role = policy.approver_role
    if role is None:
        return None
    if not holds_role(conn, actor, role):
        raise UnauthorizedError(
            f"'{actor}' may not {action} {uri}: its model's policy requires role '{role}'; "
            f"grant it with `loopml models roles grant {actor} {role}` "
            f"(RegistryClient.grant_role('{actor}', '{role}'))",
            details={"actor": actor, "role": role},
        )
    return role


# -- approvals -------------------------------------------------------------------------


def record_decision(
    conn: Connection,
    model: str,
    version: int,
    decision: str,
    *,
    actor: str,
    role: str | None,
    comment: str | None,
    at: int,
) -> Approval:
    """Append one decision (``approved`` or ``rejected``) on ``model/version``."""
    row = {
        "model": model,
        "version": version,
        "decision": decision,
        "actor": actor,
        "role": role,
        "comment": comment,
        "at": at,
    }
    key = conn.execute(approvals.insert(), row).inserted_primary_key
    assert key is not None
    return to_approval({"id": key[0], **row})


def decisions(conn: Connection, model: str, version: int) -> list[Approval]:
    """Every decision on ``model/version``, oldest first."""
    rows = conn.execute(
        select(approvals).where(_AP.model == model, _AP.version == version).order_by(_AP.id)
    ).mappings()
    return [to_approval(row) for row in rows]


# -- promotion -------------------------------------------------------------------------


def promotion_blockers(
    conn: Connection,
    policy: PromotionPolicy,
    version_row: Row,
) -> list[str]:
    """Every reason ``version_row`` may not be promoted under ``policy`` (empty: it may)."""
    model, version = version_row["model"], int(version_row["version"])
    uri = model_uri(model, version)
    status = VersionStatus(version_row["status"])
    if status is _V.ARCHIVED:
        return [f"{uri} is archived; register the package again to promote it"]
    reasons = _status_blockers(uri, status)
    if policy.gates:
        reasons += _gate_blockers(conn, policy, model, version, uri)
    if policy.require_approval:
        reasons += _approval_blockers(conn, policy, model, version, uri)
    return reasons


def copy_blockers(conn: Connection, policy: PromotionPolicy, version_row: Row) -> list[str]:
    """Every reason ``version_row`` may not be copied to another environment (empty: it may).

    A copy carries what the version showed here, so it must have shown it: a validated,
    approved or deployed status, and a latest gated evaluation that passed (each of the
    policy's gates, when the policy has any). An approval is not asked for: the next
    environment's own policy decides whether its people must approve.
    """
    model, version = version_row["model"], int(version_row["version"])
    uri = model_uri(model, version)
    status = VersionStatus(version_row["status"])
    if status is _V.ARCHIVED:
        return [f"{uri} is archived; copy a version that is not archived (or register the "
                "package again and evaluate it)"]  # fmt: skip
    reasons = _status_blockers(uri, status)
    if policy.gates:
        return reasons + _gate_blockers(conn, policy, model, version, uri)
    evaluation = latest_gated_evaluation(conn, model, version)
    if evaluation is None:
        reasons.append(
            f"no evaluation of {uri} checked any gates; evaluate it with gates "
            f"(loopml.evaluate('{uri}', data, target, gates=[...])) so there is a result "
            "to carry"
        )
    elif evaluation["passed"] is not True:
        failed = [
            str(r.get("reason") or name)
            for name, r in _gate_results(evaluation["gates"]).items()
            if r.get("passed") is False
        ]
        reasons.append(
            f"the latest gated evaluation of {uri} ({evaluation['id']}) did not pass: "
            f"{'; '.join(failed) or 'no reason given'}"
        )
    return reasons


def _status_blockers(uri: str, status: VersionStatus) -> list[str]:
    if status in PROMOTABLE:
        return []
    if status is _V.REJECTED:
        return [
            f"{uri} has status 'rejected'; evaluate it again (loopml.evaluate) and pass the "
            "gates, or register a better version"
        ]
    return [
        f"{uri} has status '{status.value}'; evaluate it with gates "
        f"(loopml.evaluate('{uri}', data, target)) so it becomes validated, or set its "
        "status to validated"
    ]


def latest_gated_evaluation(conn: Connection, model: str, version: int) -> dict[str, Any] | None:
    """``{id, gates, passed}`` of the newest evaluation of ``model/version`` with gates."""
    rows = conn.execute(
        select(_EV.id, _EV.gates, _EV.passed)
        .where(_EV.model == model, _EV.version == version)
        .order_by(_EV.created_at.desc(), _EV.id.desc())
    ).mappings()
    for row in rows:
        if row["gates"]:
            return dict(row)
    return None


def _gate_blockers(
    conn: Connection, policy: PromotionPolicy, model: str, version: int, uri: str
) -> list[str]:
    wanted = {normalize_gate(gate): gate for gate in policy.gates}
    evaluation = latest_gated_evaluation(conn, model, version)
    if evaluation is None:
        return [
            f"no evaluation of {uri} checked the policy gates ({'; '.join(policy.gates)}); "
            f"run loopml.evaluate('{uri}', data, target)"
        ]
    eval_id = evaluation["id"]
    results = _gate_results(evaluation["gates"])
    reasons = []
    for key, gate in wanted.items():
        result = results.get(key)
        if result is None:
            reasons.append(
                f"the latest evaluation of {uri} ({eval_id}) did not check gate '{gate}'; "
                "evaluate it again with the model's policy gates"
            )
        elif result.get("passed") is False and not result.get("skipped"):
            why = result.get("reason") or "it failed"
            reasons.append(f"gate '{gate}' failed in evaluation {eval_id}: {why}")
    if evaluation["passed"] is False and not reasons:
        failed = [
            str(r.get("reason") or name) for name, r in results.items() if r.get("passed") is False
        ]
        reasons.append(
            f"the latest evaluation of {uri} ({eval_id}) failed: {'; '.join(failed) or 'no reason'}"
        )
    return reasons


def _gate_results(gates: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
    results: dict[str, Mapping[str, Any]] = {}
    for item in gates:
        if isinstance(item, Mapping):
            expression = item.get("expression") or item.get("gate")
            if isinstance(expression, str):
                results[normalize_gate(expression)] = item
    return results


def _approval_blockers(
    conn: Connection, policy: PromotionPolicy, model: str, version: int, uri: str
) -> list[str]:
    role = policy.approver_role
    from_role = f" from someone with role '{role}'" if role else ""
    history = decisions(conn, model, version)
    if not history:
        return [
            f"{uri} needs an approval{from_role}; approve it with "
            f"RegistryClient.approve('{model}', {version}) (`loopml models approve`)"
        ]
    latest = history[-1]
    if latest.decision != "approved":
        said = f": {latest.comment}" if latest.comment else ""
        return [f"{uri} was rejected by '{latest.actor}'{said}; it needs a new approval{from_role}"]
    if role is not None and latest.role != role and not holds_role(conn, latest.actor, role):
        return [
            f"{uri} was approved by '{latest.actor}', who does not hold role '{role}' that "
            f"the policy requires; someone with role '{role}' must approve it"
        ]
    return []
