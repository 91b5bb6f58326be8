"""What a server holds in memory: loaded versions, and each endpoint's current routing.

An :class:`Endpoint` is one deployment as served by one process. Its :class:`Routing` is an
immutable snapshot (the policy and a loaded :class:`ServedVersion` per target); a swap
replaces the whole snapshot in one assignment, so a request sees either the old routing
or the new one, never a mix. In-flight requests keep the version they picked until they
finish; the old version is freed once the last of them lets go (the drain).

Example:
    >>> routing = Routing(TrafficPolicy.pinned(3), {"v3": served})  # doctest: +SKIP
    >>> endpoint = Endpoint("churn-api", routing)  # doctest: +SKIP
    >>> primary, shadow = endpoint.route(key=None)  # doctest: +SKIP
    >>> primary.version  # doctest: +SKIP
    3
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopml.errors import InvalidInputError
from loopml.packaging.loading import LoadedModel
from loopml.packaging.signature import Signature
from loopml.serving.policy import PayloadLogSettings, Resources, TrafficPolicy, choose_route

__all__ = ["Endpoint", "Routing", "ServedVersion"]


@dataclass(frozen=True, eq=False)
class ServedVersion:
    """One model version loaded and ready to answer.

    Attributes:
        model, version: which registered version this is.
        loaded: the loaded package (its ``predict`` checks the signature first).
        load_seconds: how long loading (fetch, verify, unpickle, warm-up) took.
    """

    model: str
    version: int
    loaded: LoadedModel
    load_seconds: float = 0.0

    @property
    def signature(self) -> Signature | None:
        return self.loaded.signature

    @property
    def label(self) -> str:
        return f"{self.model}/{self.version}"


@dataclass(frozen=True, eq=False)
class Routing:
    """An endpoint's routing at one moment: the policy and a loaded version per target."""

    policy: TrafficPolicy
    targets: Mapping[str, ServedVersion]
    payload_log: PayloadLogSettings = field(default_factory=PayloadLogSettings)
    resources: Resources = field(default_factory=Resources)
    revision: int = 0

    def __post_init__(self) -> None:
        missing = [
            route.target for route in self.policy.targets() if route.target not in self.targets
        ]
        if missing:
            raise InvalidInputError(f"routing has no loaded version for {', '.join(missing)}")


class Endpoint:
    """One deployment served by this process, under its own name.

    ``routing`` is replaced whole by :meth:`swap`; readers take one reference to it and
    use that for the whole request. ``deployment`` names the stored deployment it serves
    (``None`` for an ad-hoc ``models:/`` endpoint): a follower re-reads that record.
    """

    def __init__(self, name: str, routing: Routing, *, deployment: str | None = None) -> None:
        self.name = name
        self.deployment = deployment
        self._routing = routing
        self._rng = random.Random()
        self._swap_lock = threading.Lock()

    @property
    def routing(self) -> Routing:
        return self._routing

    def route(self, key: str | None = None) -> tuple[ServedVersion, ServedVersion | None]:
        """The version that answers a request (by ``key`` when sent) and the shadow, if any."""
        routing = self._routing
        primary = routing.targets[choose_route(routing.policy, key, self._rng).target]
        shadow = routing.policy.shadow
        return primary, None if shadow is None else routing.targets[shadow.target]

    def swap(self, routing: Routing) -> Routing:
        """Serve ``routing`` from now on; returns the routing it replaced."""
        with self._swap_lock:
            old, self._routing = self._routing, routing
        return old

    def versions(self) -> list[ServedVersion]:
        """The distinct versions loaded for this endpoint, live routes first."""
        seen: dict[int, ServedVersion] = {}
        for route in self._routing.policy.targets():
            served = self._routing.targets[route.target]
            seen.setdefault(id(served), served)
        return list(seen.values())

    @property
    def model(self) -> str:
        """The registered model every version of this endpoint belongs to."""
        return next(iter(self._routing.targets.values())).model

    def describe(self) -> dict[str, Any]:
        routing = self._routing
        return {
            "name": self.name,
            "deployment": self.deployment,
            "revision": routing.revision,
            "policy": routing.policy.to_dict(),
            "targets": {target: served.label for target, served in routing.targets.items()},
        }
