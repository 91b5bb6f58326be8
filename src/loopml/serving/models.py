"""Deployments as stored values: the deployment, each of its revisions, what it served.

Example:
    >>> ServedRange("churn-api", "@production", "churn", 3, 1_000, None).to_dict()["uri"]
    'models:/churn/3'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loopml.serving.policy import PayloadLogSettings, Resources, TrafficPolicy
from loopml.uris import model_uri

__all__ = ["Deployment", "DeploymentRevision", "ServedRange"]


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment as stored: which model, who answers (policy), what is logged, how it runs.

    Attributes:
        name: the deployment's name (the endpoint's name on a server).
        model: the registered model it serves.
        policy: the routes (aliases or versions, with weights) and the shadow.
        payload_log: what the payload log keeps.
        resources: workers, device, adaptive batching.
        description: free text.
        revision: 1 on create, one more with every change.
        created_at, updated_at: Unix milliseconds.
        created_by, updated_by: who made the first and the latest revision.

    Example:
        >>> policy = TrafficPolicy.follow("production")
        >>> deployment = client.create("churn-api", "churn", policy)  # doctest: +SKIP
        >>> deployment.revision  # doctest: +SKIP
        1
    """

    name: str
    model: str
    policy: TrafficPolicy
    payload_log: PayloadLogSettings
    resources: Resources
    description: str | None
    revision: int
    created_at: int
    created_by: str | None
    updated_at: int
    updated_by: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (``--json``, the REST API)."""
        return {
            "name": self.name,
            "model": self.model,
            "policy": self.policy.to_dict(),
            "payload_log": self.payload_log.to_dict(),
            "resources": self.resources.to_dict(),
            "description": self.description,
            "revision": self.revision,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Deployment:
        return cls(
            name=row["name"],
            model=row["model"],
            policy=TrafficPolicy.from_dict(row["policy"]),
            payload_log=PayloadLogSettings.from_dict(row["payload_log"]),
            resources=Resources.from_dict(row["resources"]),
            description=row["description"],
            revision=int(row["revision"]),
            created_at=int(row["created_at"]),
            created_by=row["created_by"],
            updated_at=int(row["updated_at"]),
            updated_by=row["updated_by"],
        )


@dataclass(frozen=True, slots=True)
class DeploymentRevision:
    """One revision of a deployment exactly as it was stored.

    ``action`` says what made it: ``created``, ``updated``, ``traffic`` (a
    :meth:`~loopml.serving.deployments.DeploymentClient.set_traffic` call) or ``deleted``
    (the deployment as it was when it was deleted).
    """

    name: str
    revision: int
    action: str
    model: str
    policy: TrafficPolicy
    payload_log: PayloadLogSettings
    resources: Resources
    description: str | None
    at: int
    actor: str
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "revision": self.revision,
            "action": self.action,
            "model": self.model,
            "policy": self.policy.to_dict(),
            "payload_log": self.payload_log.to_dict(),
            "resources": self.resources.to_dict(),
            "description": self.description,
            "at": self.at,
            "actor": self.actor,
            "reason": self.reason,
        }

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> DeploymentRevision:
        return cls(
            name=row["name"],
            revision=int(row["revision"]),
            action=row["action"],
            model=row["model"],
            policy=TrafficPolicy.from_dict(row["policy"]),
            payload_log=PayloadLogSettings.from_dict(row["payload_log"]),
            resources=Resources.from_dict(row["resources"]),
            description=row["description"],
            at=int(row["at"]),
            actor=row["actor"],
            reason=row["reason"],
        )


@dataclass(frozen=True, slots=True)
class ServedRange:
    """A target of a deployment served one version from ``started_at`` until ``ended_at``.

    ``ended_at`` is ``None`` while it still serves it. Times are Unix milliseconds.
    """

    deployment: str
    target: str
    model: str
    version: int
    started_at: int
    ended_at: int | None

    @property
    def uri(self) -> str:
        return model_uri(self.model, self.version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "target": self.target,
            "model": self.model,
            "version": self.version,
            "uri": self.uri,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }
