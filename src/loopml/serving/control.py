"""Building a process's endpoints from what ``loopml serve`` was given.

``loopml serve models:/churn@production`` is an ad-hoc deployment: one endpoint named
after the model, following that alias (or pinned to that version). ``loopml serve
churn-api`` serves a stored deployment (:mod:`loopml.serving.deployments`): every target
of its policy is loaded (a version two targets share is loaded once) and checked on its
package's input example before the endpoint takes traffic. A
:class:`~loopml.serving.follow.Follower` then keeps it following the record.

Example:
    >>> endpoint = open_endpoint("models:/churn@production", Settings.load())  # doctest: +SKIP
    >>> endpoint.name  # doctest: +SKIP
    'churn'
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from loopml.config import Settings
from loopml.errors import GateFailedError, InvalidInputError
from loopml.packaging.devices import CPU
from loopml.packaging.loading import Runtime
from loopml.registry import RegistryClient
from loopml.registry.loading import load_model
from loopml.serving.deployments import DeploymentClient
from loopml.serving.models import Deployment
from loopml.serving.policy import Resources, TrafficPolicy
from loopml.serving.runtime import Endpoint, Routing, ServedVersion
from loopml.uris import is_uri, model_uri, parse_uri

__all__ = ["check_version", "load_routing", "load_targets", "load_version", "open_endpoint"]

Loaded = Mapping[tuple[str, int], ServedVersion]


def load_version(
    client: RegistryClient,
    model: str,
    version: int,
    *,
    runtime: Runtime = "native",
    device: str = CPU,
    trusted: Sequence[str] = (),
) -> ServedVersion:
    """Load ``models:/model/version`` into memory, timing it.

    Args:
        runtime: ``"native"`` (the package's flavor) or ``"onnx"`` (its converted graph
            in onnxruntime; the version must have been registered with ``onnx=True``).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (a deployment's ``Resources.device``).
        trusted: see :func:`loopml.registry.loading.load_model` (types and pyfunc classes
            only the package's own files provide).

    Raises:
        DeviceUnavailableError: ``device`` is a GPU this machine lacks.
        InvalidInputError: ``runtime="onnx"`` for a version without an ONNX graph.
    """
    started = time.perf_counter()
    loaded = load_model(
        model_uri(model, version),
        settings=client.settings,
        runtime=runtime,
        device=device,
        trusted=trusted,
    )
    return ServedVersion(model, version, loaded, load_seconds=time.perf_counter() - started)


def check_version(served: ServedVersion) -> None:
    """Predict on the package's stored input example: a version that fails is not served.

    A package logged without an example passes (there is nothing to try it on).

    Raises:
        GateFailedError: loading the example or predicting on it failed; the message
            names the version and the error.
    """
    try:
        example = served.loaded.input_example()
        if example is not None:
            served.loaded.predict(example)
    except Exception as err:
        raise GateFailedError(
            f"{model_uri(served.model, served.version)} failed on its own input example "
            f"({type(err).__name__}: {err}); it is not served. Fix the package (or what it "
            "needs on this machine) and register a new version",
            details={"model": served.model, "version": served.version, "error": str(err)},
        ) from err


def load_targets(
    client: RegistryClient,
    model: str,
    targets: Mapping[str, int],
    loaded: Loaded | None = None,
    *,
    trusted: Sequence[str] = (),
    runtime: Runtime = "native",
    device: str = CPU,
) -> dict[str, ServedVersion]:
    """A loaded version for each target of ``targets`` (``{"@production": 3}``).

    Versions in ``loaded`` (keyed by ``(model, version)``) are reused as they are; every
    other one is loaded and checked (:func:`check_version`) once, however many targets
    name it.

    Raises:
        GateFailedError: a new version failed its input-example check.
        NotFoundError, DigestMismatchError: a version could not be loaded.
    """
    have = dict(loaded or {})
    served: dict[str, ServedVersion] = {}
    for target, version in targets.items():
        key = (model, version)
        if key not in have:
            fresh = load_version(
                client, model, version, runtime=runtime, device=device, trusted=trusted
            )
            check_version(fresh)
            have[key] = fresh
        served[target] = have[key]
    return served


def load_routing(
    client: RegistryClient,
    deployment: Deployment,
    targets: Mapping[str, int],
    loaded: Loaded | None = None,
    *,
    trusted: Sequence[str] = (),
) -> Routing:
    """The routing of ``deployment`` serving ``targets`` (see :func:`load_targets`).

    Versions load on the deployment's ``resources.runtime`` and ``resources.device``.
    """
    resources = deployment.resources
    return Routing(
        deployment.policy,
        load_targets(
            client,
            deployment.model,
            targets,
            loaded,
            trusted=trusted,
            runtime=resources.runtime,
            device=resources.device,
        ),
        payload_log=deployment.payload_log,
        resources=deployment.resources,
        revision=deployment.revision,
    )


def open_endpoint(
    spec: str,
    settings: Settings,
    *,
    trusted: Sequence[str] = (),
    resources: Resources | None = None,
) -> Endpoint:
    """An endpoint for ``spec``: a ``models:/`` URI (ad hoc) or a stored deployment's name.

    ``trusted`` is passed to :func:`load_version` for every version loaded. ``resources``
    (runtime, device, batching) applies to an ad-hoc endpoint; a stored deployment runs
    on its own.
    Every version is loaded and checked on its input example before this returns.

    Raises:
        NotFoundError: no such model, version, alias or deployment.
        InvalidInputError: a URI that does not name a registered model.
        GateFailedError: a version fails on its own input example.
    """
    if is_uri(spec):
        return _open_ad_hoc(spec, RegistryClient(settings), trusted, resources or Resources())
    deployments = DeploymentClient(settings)
    deployment = deployments.get(spec)
    routing = load_routing(
        deployments.registry, deployment, deployments.resolve(deployment), trusted=trusted
    )
    return Endpoint(deployment.name, routing, deployment=deployment.name)


def _open_ad_hoc(
    spec: str, client: RegistryClient, trusted: Sequence[str], resources: Resources
) -> Endpoint:
    uri = parse_uri(spec)
    if uri.scheme != "models":
        raise InvalidInputError(
            f"loopml serves registered models, not {spec!r}; register it first "
            "(loopml models register) and serve models:/<name>@<alias>"
        )
    version = client.resolve(spec)
    policy = TrafficPolicy.follow(uri.alias) if uri.alias else TrafficPolicy.pinned(version.version)
    served = load_version(
        client,
        version.model,
        version.version,
        trusted=trusted,
        runtime=resources.runtime,
        device=resources.device,
    )
    check_version(served)
    routing = Routing(policy, {policy.routes[0].target: served}, resources=resources)
    return Endpoint(version.model, routing)
