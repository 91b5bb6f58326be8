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
from collections.abc import Sequence

from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.registry import RegistryClient
from loopml.registry.loading import load_model
from loopml.serving.policy import TrafficPolicy
from loopml.serving.runtime import Endpoint, Routing, ServedVersion
from loopml.uris import is_uri, model_uri, parse_uri

__all__ = ["load_version", "open_endpoint"]


def load_version(
    client: RegistryClient, model: str, version: int, *, trusted: Sequence[str] = ()
) -> ServedVersion:
    """Load ``models:/model/version`` into memory, timing it.

    ``trusted``: see :func:`loopml.registry.loading.load_model` (types and pyfunc classes
    only the package's own files provide).
    """
    started = time.perf_counter()
    loaded = load_model(model_uri(model, version), settings=client.settings, trusted=trusted)
    return ServedVersion(model, version, loaded, load_seconds=time.perf_counter() - started)


def open_endpoint(spec: str, settings: Settings, *, trusted: Sequence[str] = ()) -> Endpoint:
    """An endpoint for ``spec``: a ``models:/`` URI (ad hoc) or a stored deployment's name.

    ``trusted`` is passed to :func:`load_version` for every version loaded.

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
        served = load_version(client, version.model, version.version, trusted=trusted)
        return Endpoint(version.model, Routing(policy, {policy.routes[0].target: served}))
    raise NotFoundError("deployment", spec, hint="create it with: loopml deployments create")
