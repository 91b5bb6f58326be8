"""Building a process's endpoints from what ``loopml serve`` was given.

``loopml serve models:/churn@production`` is an ad-hoc deployment: one endpoint named
after the model, following that alias (or pinned to that version). ``loopml serve
churn-api`` serves a stored deployment (:mod:`loopml.serving.deployments`), and keeps
following it: alias moves and policy changes swap the endpoint's routing in place.

Example:
    >>> endpoint = open_endpoint("models:/churn@production", Settings.load())  # doctest: +SKIP
    >>> endpoint.name  # doctest: +SKIP
    'churn'
"""

from __future__ import annotations

import time

from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.packaging.devices import CPU
from loopml.packaging.loading import Runtime
from loopml.registry import RegistryClient
from loopml.registry.loading import load_model
from loopml.serving.policy import TrafficPolicy
from loopml.serving.runtime import Endpoint, Routing, ServedVersion
from loopml.uris import is_uri, model_uri, parse_uri

__all__ = ["load_version", "open_endpoint"]


def load_version(
    client: RegistryClient,
    model: str,
    version: int,
    *,
    runtime: Runtime = "native",
    device: str = CPU,
) -> ServedVersion:
    """Load ``models:/model/version`` into memory, timing it.

    Args:
        runtime: ``"native"`` (the package's flavor) or ``"onnx"`` (its converted graph
            in onnxruntime; the version must have been registered with ``onnx=True``).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (a deployment's ``Resources.device``).

    Raises:
        DeviceUnavailableError: ``device`` is a GPU this machine lacks.
        InvalidInputError: ``runtime="onnx"`` for a version without an ONNX graph.
    """
    started = time.perf_counter()
    loaded = load_model(
        model_uri(model, version), settings=client.settings, runtime=runtime, device=device
    )
    return ServedVersion(model, version, loaded, load_seconds=time.perf_counter() - started)


def open_endpoint(spec: str, settings: Settings) -> Endpoint:
    """An endpoint for ``spec``: a ``models:/`` URI (ad hoc) or a stored deployment's name.

    Raises:
        NotFoundError: no such model, version, alias or deployment.
        InvalidInputError: a URI that does not name a registered model.
    """
    client = RegistryClient(settings)
    if is_uri(spec):
        uri = parse_uri(spec)
        if uri.scheme != "models":
            raise InvalidInputError(
                f"loopml serves registered models, not {spec!r}; register it first "
                "(loopml models register) and serve models:/<name>@<alias>"
            )
        version = client.resolve(spec)
        policy = (
            TrafficPolicy.follow(uri.alias) if uri.alias else TrafficPolicy.pinned(version.version)
        )
        served = load_version(client, version.model, version.version)
        return Endpoint(version.model, Routing(policy, {policy.routes[0].target: served}))
    raise NotFoundError("deployment", spec, hint="create it with: loopml deployments create")
