"""What every request handler reaches: the settings, the store, and each component's client.

Clients are made on first use and shared by all requests of one server process (they are
safe to share between threads: each call opens its own connection from the pool).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from loopml.config import Settings
from loopml.server.accounts import AccountService
from loopml.server.idempotency import IdempotencyKeys
from loopml.server.uploads import StagedUploads
from loopml.store import Store, open_store

if TYPE_CHECKING:
    from loopml.automation import AutomationClient
    from loopml.data import DatasetClient
    from loopml.features import FeatureStore
    from loopml.monitoring import MonitorClient
    from loopml.registry import RegistryClient
    from loopml.serving import DeploymentClient
    from loopml.tracking import TrackingClient

__all__ = ["ServerConfig", "ServerContext"]

T = TypeVar("T")

DEFAULT_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How a server runs.

    Args:
        auth: ``"none"`` (token-free, one trusted user: loopback only) or ``"tokens"``.
        max_body_bytes: larger request bodies get 413 (artifact uploads stream past it).
        user: who token-free requests act as (default: the server's ``LOOPML_USER``/login),
            unless a request names itself in a ``loopml-user`` header.
        workers: how many processes serve the store.
        upload_ttl_s: how long a staged artifact upload may sit idle before it is deleted.
        presign_expires_s: how long a presigned artifact URL stays valid.
    """

    auth: str = "none"
    max_body_bytes: int = DEFAULT_MAX_BODY
    user: str | None = None
    workers: int = 1
    upload_ttl_s: float = 24 * 3600.0
    presign_expires_s: int = 3600

    @property
    def shared_store(self) -> bool:
        """Whether other processes answer from the same store: then a write is ingested
        before it is acknowledged, so the next request sees it whichever worker takes it.
        One worker answers reads through the same client, which ingests first anyway."""
        return self.workers > 1


@dataclass
class ServerContext:
    """One server process's view of the store and the components."""

    settings: Settings
    config: ServerConfig = field(default_factory=ServerConfig)
    _made: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def store(self) -> Store:
        return self._once("store", lambda: open_store(self.settings.db_url))

    @property
    def accounts(self) -> AccountService:
        return self._once("accounts", lambda: AccountService(self.store))

    @property
    def idempotency(self) -> IdempotencyKeys:
        return self._once("idempotency", lambda: IdempotencyKeys(self.store))

    @property
    def uploads(self) -> StagedUploads:
        """Artifact uploads in progress (in the home's cache, shared by the workers)."""
        root = self.settings.home / "cache" / "uploads"
        return self._once("uploads", lambda: StagedUploads(root, ttl_s=self.config.upload_ttl_s))

    @property
    def tracking(self) -> TrackingClient:
        from loopml.tracking import TrackingClient

        return self._once("tracking", lambda: TrackingClient(self.settings, capture_env=False))

    @property
    def registry(self) -> RegistryClient:
        from loopml.evaluation.gates import check_policy_gates
        from loopml.registry import RegistryClient

        return self._once(
            "registry", lambda: RegistryClient(self.settings, gate_check=check_policy_gates)
        )

    @property
    def datasets(self) -> DatasetClient:
        from loopml.data import DatasetClient

        return self._once("datasets", lambda: DatasetClient(self.settings))

    @property
    def features(self) -> FeatureStore:
        from loopml.features import FeatureStore

        return self._once("features", lambda: FeatureStore(self.settings))

    @property
    def deployments(self) -> DeploymentClient:
        from loopml.serving import DeploymentClient

        return self._once("deployments", lambda: DeploymentClient(self.settings))

    @property
    def monitors(self) -> MonitorClient:
        from loopml.monitoring import MonitorClient

        return self._once("monitors", lambda: MonitorClient(self.settings))

    @property
    def automation(self) -> AutomationClient:
        from loopml.automation import AutomationClient

        return self._once("automation", lambda: AutomationClient(self.settings))

    def close(self) -> None:
        """Flush what the clients buffer (metrics) and let go of them."""
        with self._lock:
            made, self._made = self._made, {}
        tracking = made.get("tracking")
        if tracking is not None:
            tracking.close()

    def _once(self, name: str, make: Callable[[], T]) -> T:
        found = self._made.get(name)
        if found is None:
            with self._lock:
                found = self._made.get(name)
                if found is None:
                    found = self._made[name] = make()
        return found
