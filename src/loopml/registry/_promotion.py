"""The governed writes: approving, rejecting and promoting a version.

Each runs in the caller's transaction, under the model's row lock, and checks the
model's policy against what is stored *in that transaction*, so a decision or a
promotion is never made on a state another writer just changed.

Example:
    >>> promoted = promote(conn, "churn", 4, "production", reason=None,
    ...                    archive_previous=False, actor="ana")  # doctest: +SKIP
    >>> promoted.status  # doctest: +SKIP
    <VersionStatus.DEPLOYED: 'deployed'>
"""

from __future__ import annotations

from sqlalchemy import Connection

from loopml.clock import now_ms
from loopml.errors import ConflictError, GateFailedError
from loopml.registry import _records, _versions, aliases, events, governance
from loopml.registry._records import Row
from loopml.registry.models import Approval, ModelVersion, VersionStatus
from loopml.store.lineage import add_edge
from loopml.uris import model_uri

__all__ = ["approve_or_reject", "promote"]

_V = VersionStatus


def approve_or_reject(
    conn: Connection,
    name: str,
    version: int,
    decision: str,
    *,
    comment: str | None,
    actor: str,
) -> Approval:
    """Approve (``"approved"``) or reject (``"rejected"``) ``name/version`` as ``actor``.

    Raises:
        ConflictError: the version's status does not allow the decision.
        UnauthorizedError: the policy's approver role is not ``actor``'s.
    """
    approving = decision == "approved"
    target = _V.APPROVED if approving else _V.REJECTED
    policy = governance.policy_of(_records.lock_model(conn, name))
    row = _records.find_version(conn, name, version)
    uri = model_uri(name, version)
    status = _V(row["status"])
    _check_decidable(uri, status, approving)
    role = governance.authorize(conn, policy, actor, uri, "approve" if approving else "reject")
    now = now_ms()
    made = governance.record_decision(
        conn, name, version, decision, actor=actor, role=role, comment=comment, at=now
    )
    if status is not target:
        _records.update_status(conn, name, version, target, now)
    kind = "model_version.approved" if approving else "model_version.rejected"
    payload = {"comment": comment, "role": role, "from": status.value}
    events.record(conn, kind, name, version, payload, actor=actor)
    return made


def promote(
    conn: Connection,
    name: str,
    version: int,
    alias: str,
    *,
    reason: str | None,
    archive_previous: bool,
    actor: str,
) -> ModelVersion:
    """Point ``name@alias`` at ``version`` if the policy allows; the version is deployed.

    Raises:
        GateFailedError: listing every blocker (also in ``details["reasons"]``).
        ConflictError: ``archive_previous`` and another alias points at the old version.
    """
    policy = governance.policy_of(_records.lock_model(conn, name))
    row = _records.find_version(conn, name, version)
    blockers = governance.promotion_blockers(conn, policy, row)
    if blockers:
        raise GateFailedError(
            f"cannot promote {model_uri(name, version)} to {name}@{alias}: " + "; ".join(blockers),
            details={"reasons": blockers, "model": name, "version": version, "alias": alias},
        )
    now = now_ms()
    previous = aliases.current(conn, name, alias)
    aliases.move(conn, name, alias, version, previous=previous, actor=actor, reason=reason, at=now)
    if row["status"] != _V.DEPLOYED.value:
        _records.update_status(conn, name, version, _V.DEPLOYED, now)
    replaced = previous if previous is not None and previous != version else None
    if replaced is not None:
        add_edge(conn, ("model_version", f"{name}/{version}"), "promoted_from",
                 ("model_version", f"{name}/{replaced}"), {"alias": alias})  # fmt: skip
    payload = {"alias": alias, "previous_version": previous, "from": row["status"]}
    events.record(
        conn, "model_version.promoted", name, version, payload, actor=actor, reason=reason
    )
    if archive_previous and replaced is not None:
        _archive_replaced(conn, name, replaced, f"replaced by version {version} as {name}@{alias}",
                          actor)  # fmt: skip
    done = {**row, "status": _V.DEPLOYED.value, "status_changed_at": now}
    return _records.to_version(done, _records.aliases_of_version(conn, name, version))


def _archive_replaced(conn: Connection, name: str, version: int, reason: str, actor: str) -> None:
    old: Row = _records.find_version(conn, name, version)
    _versions.change_status(conn, old, _V.ARCHIVED, actor=actor, reason=reason)


def _check_decidable(uri: str, status: VersionStatus, approving: bool) -> None:
    if approving and status not in (_V.VALIDATED, _V.APPROVED):
        raise ConflictError(
            f"{uri} has status '{status.value}'; only a validated version can be approved: "
            f"evaluate it first (loopml.evaluate('{uri}', data, target) with the policy "
            "gates) so it becomes validated"
        )
    if not approving and not status.can_move_to(_V.REJECTED):
        hint = (
            "archive it instead, or promote another version"
            if status is _V.DEPLOYED
            else "it is retired already"
        )
        raise ConflictError(f"{uri} has status '{status.value}' and cannot be rejected; {hint}")
