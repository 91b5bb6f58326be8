"""A deployment's settings as values: traffic policy, payload-log settings, resources.

A :class:`TrafficPolicy` says which model versions answer and in what shares: each
:class:`Route` follows an alias (``@production``) or pins a version (``v3``) and carries
a weight in percent; the weights add up to 100. A request that carries a key (the
``loopml-key`` header) always lands on the same route for the same weights (sticky); one
without a key is placed at random. A shadow route predicts on a copy of every request;
its answer is logged and never returned.

These are plain values: the deployments store (registry-side code, the automation
controller) builds a new policy and writes it in one transaction; a server swaps to it.

Example:
    >>> policy = TrafficPolicy.follow("production")
    >>> policy.routes[0].target
    '@production'
    >>> canary = TrafficPolicy(routes=(Route(alias="production", weight=90),
    ...                                 Route(alias="challenger", weight=10)))
    >>> first = choose_route(canary, key="customer-42")
    >>> first == choose_route(canary, key="customer-42")
    True
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loopml.errors import InvalidInputError
from loopml.packaging.loading import RUNTIMES, Runtime

__all__ = [
    "KEY_HEADER",
    "PayloadLogSettings",
    "Resources",
    "Route",
    "TrafficPolicy",
    "choose_route",
]

KEY_HEADER = "loopml-key"
"""The request header whose value keeps a caller on one route of a split."""


@dataclass(frozen=True, slots=True)
class Route:
    """One target of a traffic split: an alias to follow or a version to pin, and its share.

    Exactly one of ``alias`` and ``version`` is set. ``weight`` is a percentage (0-100).
    """

    alias: str | None = None
    version: int | None = None
    weight: int = 100

    def __post_init__(self) -> None:
        if (self.alias is None) == (self.version is None):
            raise InvalidInputError(
                f"a route names an alias or a version, not {self.target_text()}; "
                "give alias='production' or version=3"
            )
        if self.version is not None and (
            isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1
        ):
            raise InvalidInputError(
                f"route version must be a whole number >= 1, got {self.version!r}"
            )
        if (
            isinstance(self.weight, bool)
            or not isinstance(self.weight, int)
            or not 0 <= self.weight <= 100
        ):
            raise InvalidInputError(
                f"route weight must be a whole percentage 0-100, got {self.weight!r}"
            )

    @property
    def target(self) -> str:
        """``@alias`` or ``v<version>``: the route's name in policies, metrics and logs."""
        return f"@{self.alias}" if self.alias is not None else f"v{self.version}"

    def target_text(self) -> str:
        return f"alias={self.alias!r}, version={self.version!r}"

    def to_dict(self) -> dict[str, Any]:
        return {"alias": self.alias, "version": self.version, "weight": self.weight}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Route:
        return cls(
            alias=data.get("alias"), version=data.get("version"), weight=data.get("weight", 100)
        )


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    """Who answers a deployment's requests: weighted routes, and an optional shadow.

    Raises:
        InvalidInputError: no route, weights that do not add up to 100, or a target named
            twice.
    """

    routes: tuple[Route, ...]
    shadow: Route | None = None

    def __post_init__(self) -> None:
        if not self.routes:
            raise InvalidInputError("a traffic policy needs at least one route")
        total = sum(route.weight for route in self.routes)
        if total != 100:
            shares = ", ".join(f"{r.target}={r.weight}" for r in self.routes)
            raise InvalidInputError(f"route weights must add up to 100, got {total} ({shares})")
        targets = [route.target for route in self.routes]
        if len(set(targets)) != len(targets):
            raise InvalidInputError(f"a traffic policy names each target once, got {targets}")
        if self.shadow is not None and self.shadow.target in targets:
            raise InvalidInputError(
                f"the shadow {self.shadow.target} also takes live traffic; shadow a target "
                "that is not one of the routes"
            )

    @classmethod
    def follow(cls, alias: str) -> TrafficPolicy:
        """All traffic to whatever version ``alias`` points at."""
        return cls(routes=(Route(alias=alias),))

    @classmethod
    def pinned(cls, version: int) -> TrafficPolicy:
        """All traffic to one version."""
        return cls(routes=(Route(version=version),))

    def targets(self) -> list[Route]:
        """Every route that needs a loaded version: the live ones, then the shadow."""
        return [*self.routes, *([self.shadow] if self.shadow is not None else [])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "routes": [route.to_dict() for route in self.routes],
            "shadow": None if self.shadow is None else self.shadow.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrafficPolicy:
        shadow = data.get("shadow")
        return cls(
            routes=tuple(Route.from_dict(route) for route in data.get("routes", ())),
            shadow=None if shadow is None else Route.from_dict(shadow),
        )


def choose_route(
    policy: TrafficPolicy, key: str | None = None, rng: random.Random | None = None
) -> Route:
    """The route a request goes to: by the key's hash when one is sent, else at random.

    The same key lands on the same route as long as the weights do not change; as a
    weight grows, keys move only towards the route that grew.
    """
    if len(policy.routes) == 1:
        return policy.routes[0]
    if key is not None:
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        point = int.from_bytes(digest, "big") % 10_000 / 100
    else:
        point = (rng or random).random() * 100
    cumulative = 0
    for route in policy.routes:
        cumulative += route.weight
        if point < cumulative:
            return route
    return policy.routes[-1]


@dataclass(frozen=True, slots=True)
class PayloadLogSettings:
    """What the payload log keeps for a deployment.

    Attributes:
        enabled: log predictions at all.
        sample_rate: the share of requests logged (0-1); a shadow call is logged with
            its primary.
        log_inputs: keep the request's inputs (turn off for privacy; outputs, latency
            and status are still kept).
    """

    enabled: bool = True
    sample_rate: float = 1.0
    log_inputs: bool = True

    def __post_init__(self) -> None:
        rate = self.sample_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise InvalidInputError(f"sample_rate must be between 0 and 1, got {rate!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "sample_rate": self.sample_rate,
            "log_inputs": self.log_inputs,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PayloadLogSettings:
        return cls(
            **{key: data[key] for key in ("enabled", "sample_rate", "log_inputs") if key in data}
        )


@dataclass(frozen=True, slots=True)
class Resources:
    """How a deployment runs: worker processes, device, adaptive batching.

    Attributes:
        workers: server worker processes.
        device: ``"cpu"`` or ``"cuda"`` / ``"cuda:N"`` (refused at load when no GPU).
        max_batch_size: requests merged into one model call; 1 turns batching off.
        max_batch_time_ms: how long the first request of a batch waits for company.
        runtime: ``"native"`` (the package's flavor) or ``"onnx"`` (the graph converted at
            registration, run by onnxruntime; every version served needs one).
    """

    workers: int = 1
    device: str = "cpu"
    max_batch_size: int = 1
    max_batch_time_ms: float = 2.0
    runtime: Runtime = "native"

    def __post_init__(self) -> None:
        for name in ("workers", "max_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
                raise InvalidInputError(f"{name} must be a whole number 1-4096, got {value!r}")
        wait = self.max_batch_time_ms
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 10_000:
            raise InvalidInputError(f"max_batch_time_ms must be 0-10000, got {wait!r}")
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise InvalidInputError(
                f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}"
            )
        if self.runtime not in RUNTIMES:
            raise InvalidInputError(
                f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "device": self.device,
            "max_batch_size": self.max_batch_size,
            "max_batch_time_ms": self.max_batch_time_ms,
            "runtime": self.runtime,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resources:
        keys = ("workers", "device", "max_batch_size", "max_batch_time_ms", "runtime")
        return cls(**{key: data[key] for key in keys if key in data})
