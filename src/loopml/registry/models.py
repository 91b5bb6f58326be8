"""The registry's value objects: what callers get back, never live database rows.

Example:
    >>> VersionStatus.REGISTERED.can_move_to(VersionStatus.VALIDATED)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from loopml.packaging.models import PackageInfo
from loopml.uris import model_uri
from loopml.webhooks.models import Webhook

__all__ = [
    "AliasChange",
    "Approval",
    "CopiedVersion",
    "ModelInfo",
    "ModelVersion",
    "PromotionPolicy",
    "RegisteredModel",
    "RegistryEvent",
    "RoleGrant",
    "SavedEvaluation",
    "VersionStatus",
    "Webhook",
]


class VersionStatus(StrEnum):
    """Where a version stands.

    registered -> validated | rejected -> approved -> deployed -> archived.
    """

    REGISTERED = "registered"
    VALIDATED = "validated"
    REJECTED = "rejected"
    APPROVED = "approved"
    DEPLOYED = "deployed"
    ARCHIVED = "archived"

    def can_move_to(self, target: VersionStatus) -> bool:
        return target in _MOVES[self]


# An evaluation may run again on a validated or rejected version and move it either way;
# any version can be archived, and an archived one can come back only by a new version.
_V = VersionStatus
_MOVES: dict[VersionStatus, frozenset[VersionStatus]] = {
    _V.REGISTERED: frozenset({_V.VALIDATED, _V.REJECTED, _V.ARCHIVED}),
    _V.VALIDATED: frozenset({_V.VALIDATED, _V.REJECTED, _V.APPROVED, _V.DEPLOYED, _V.ARCHIVED}),
    _V.REJECTED: frozenset({_V.VALIDATED, _V.REJECTED, _V.ARCHIVED}),
    _V.APPROVED: frozenset({_V.DEPLOYED, _V.REJECTED, _V.ARCHIVED}),
    _V.DEPLOYED: frozenset({_V.DEPLOYED, _V.ARCHIVED}),
    _V.ARCHIVED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class PromotionPolicy:
    """What a version of one model must show before a protected alias may point at it.

    Attributes:
        gates: gate expressions an evaluation must pass (``"accuracy >= 0.9"``,
            ``"f1 >= champion - 0.01"``, ``"gap(recall, by=sex) <= 0.05"``, ``"infra"``).
        require_approval: whether a human approval is needed before promotion.
        approver_role: the role the approver must hold (``None``: anyone may approve).
        protected_aliases: aliases only a promotion may move (checks apply).
    """

    gates: tuple[str, ...] = ()
    require_approval: bool = False
    approver_role: str | None = None
    protected_aliases: tuple[str, ...] = ("production",)

    def to_dict(self) -> dict[str, Any]:
        return {
            "gates": list(self.gates),
            "require_approval": self.require_approval,
            "approver_role": self.approver_role,
            "protected_aliases": list(self.protected_aliases),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PromotionPolicy:
        if not data:
            return cls()
        return cls(
            gates=tuple(data.get("gates") or ()),
            require_approval=bool(data.get("require_approval", False)),
            approver_role=data.get("approver_role"),
            # A stored empty list means "protect nothing"; only a missing key takes the default.
            protected_aliases=tuple(data.get("protected_aliases", ("production",)) or ()),
        )


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    description: str | None
    tags: dict[str, str]
    policy: PromotionPolicy
    aliases: dict[str, int]
    latest_version: int | None
    created_at: int
    created_by: str | None
    updated_at: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegisteredModel:
        """The model from its JSON (as the server sends it)."""
        return cls(
            name=data["name"],
            description=data.get("description"),
            tags=dict(data.get("tags") or {}),
            policy=PromotionPolicy.from_dict(data.get("policy")),
            aliases={alias: int(v) for alias, v in (data.get("aliases") or {}).items()},
            latest_version=data.get("latest_version"),
            created_at=data["created_at"],
            created_by=data.get("created_by"),
            updated_at=data["updated_at"],
        )


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version. ``uri`` is ``models:/name/N``; times are Unix ms."""

    model: str
    version: int
    id: str
    status: VersionStatus
    source: str
    run_id: str | None
    flavor: str
    package_digest: str
    size_bytes: int
    description: str | None
    tags: dict[str, str]
    aliases: tuple[str, ...]
    created_at: int
    created_by: str | None
    status_changed_at: int

    @property
    def uri(self) -> str:
        return model_uri(self.model, self.version)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        """The version from its JSON (as the server sends it; ``uri`` is ignored)."""
        return cls(
            model=data["model"],
            version=int(data["version"]),
            id=data["id"],
            status=VersionStatus(data["status"]),
            source=data["source"],
            run_id=data.get("run_id"),
            flavor=data["flavor"],
            package_digest=data["package_digest"],
            size_bytes=int(data["size_bytes"]),
            description=data.get("description"),
            tags=dict(data.get("tags") or {}),
            aliases=tuple(data.get("aliases") or ()),
            created_at=data["created_at"],
            created_by=data.get("created_by"),
            status_changed_at=data["status_changed_at"],
        )

    @property
    def node(self) -> tuple[str, str]:
        """This version's lineage node."""
        return ("model_version", f"{self.model}/{self.version}")

    def _repr_html_(self) -> str:
        """A compact table for notebooks."""
        from loopml._html import html_table, human_bytes, when

        return html_table(
            f"Model version {self.uri}",
            [
                ("status", str(self.status)),
                ("aliases", list(self.aliases)),
                ("flavor", self.flavor),
                ("source", self.source),
                ("run", self.run_id),
                ("size", human_bytes(self.size_bytes)),
                ("digest", self.package_digest[:12]),
                ("description", self.description),
                ("tags", self.tags),
                ("created", when(self.created_at)),
                ("created by", self.created_by),
            ],
        )


@dataclass(frozen=True, slots=True)
class AliasChange:
    """One move of an alias; ``version`` is ``None`` when the alias was removed."""

    id: int
    model: str
    alias: str
    version: int | None
    previous_version: int | None
    at: int
    actor: str
    reason: str | None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AliasChange:
        """The move from its JSON (as the server sends it)."""
        return cls(
            id=data["id"],
            model=data["model"],
            alias=data["alias"],
            version=data.get("version"),
            previous_version=data.get("previous_version"),
            at=data["at"],
            actor=data["actor"],
            reason=data.get("reason"),
        )


@dataclass(frozen=True, slots=True)
class Approval:
    id: int
    model: str
    version: int
    decision: str  # "approved" or "rejected"
    actor: str
    role: str | None
    comment: str | None
    at: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Approval:
        """The decision from its JSON (as the server sends it)."""
        return cls(
            id=data["id"],
            model=data["model"],
            version=data["version"],
            decision=data["decision"],
            actor=data["actor"],
            role=data.get("role"),
            comment=data.get("comment"),
            at=data["at"],
        )


@dataclass(frozen=True, slots=True)
class SavedEvaluation:
    """What storing an evaluation did: its ``id``, and the evaluated version's ``status``
    after it (``None`` when no registered version was evaluated)."""

    id: str
    status: str | None


@dataclass(frozen=True, slots=True)
class CopiedVersion:
    """What copying a version to another environment gave (``RegistryClient.copy_version``).

    Attributes:
        version: the copy, a version of the same model in the target registry.
        copied_from: the source, qualified by its environment (``dev:models:/churn/2``).
        env: the target's environment.
        evaluation_id: the copy's evaluation (the source's, stored again in the target).
        lineage_digest: the SHA-256 of the copy's lineage summary file.
        created: ``False`` when the version had been copied before and that copy came back.
    """

    version: ModelVersion
    copied_from: str
    env: str
    evaluation_id: str | None
    lineage_digest: str
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model,
            "version": self.version.version,
            "uri": self.version.uri,
            "env": self.env,
            "status": self.version.status.value,
            "copied_from": self.copied_from,
            "evaluation_id": self.evaluation_id,
            "lineage_digest": self.lineage_digest,
            "package_digest": self.version.package_digest,
            "created": self.created,
        }


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """``user`` holds ``role`` (e.g. the approver role a promotion policy names)."""

    user: str
    role: str
    granted_at: int
    granted_by: str | None


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One registry change; ``id`` is the cursor to resume after."""

    id: int
    at: int
    kind: str
    model: str
    version: int | None
    actor: str
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "kind": self.kind,
            "model": self.model,
            "version": self.version,
            "actor": self.actor,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegistryEvent:
        """The event from its JSON (:meth:`to_dict`'s shape)."""
        return cls(
            id=data["id"],
            at=data["at"],
            kind=data["kind"],
            model=data["model"],
            version=data.get("version"),
            actor=data["actor"],
            payload=dict(data.get("payload") or {}),
        )


@dataclass(frozen=True, slots=True)
class ModelInfo(PackageInfo):
    """What ``loopml.log_model`` stored, and the version it registered (``register_as``)."""

    registered: ModelVersion | None = None
