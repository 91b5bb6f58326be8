"""Logging and registering models from the SDK: ``loopml.log_model``, ``loopml.register_model``.

Tracking logs a package in a run without registering it; ``loopml.log_model(...,
register_as="churn")`` logs it, then registers it, here where both components are seen.

The registry client it uses follows the fluent tracking API's settings
(``loopml.configure(...)``, ``LOOPML_*``), so a model logged with ``loopml.log_model``
registers into the same store.

Example:
    >>> import loopml
    >>> with loopml.start_run(experiment="churn") as run:  # doctest: +SKIP
    ...     info = loopml.log_model(model, input_example=X[:5])
    >>> loopml.register_model(info, "churn").uri  # doctest: +SKIP
    'models:/churn/1'
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, Unpack

from loopml._remote import is_remote
from loopml._sdk._shared import SharedClient, shared_http
from loopml.config import Settings
from loopml.evaluation.gates import check_policy_gates
from loopml.packaging.models import PackageInfo, PackageOptions
from loopml.packaging.onnx_export import onnx_mode
from loopml.registry import client as _registry
from loopml.registry.models import ModelInfo, ModelVersion
from loopml.tracking import TrackingClient, fluent

__all__ = [
    "RegistryClient",
    "log_model",
    "log_model_in_run",
    "register_model",
    "registry_client",
    "registry_client_for",
]


class RegistryClient(_registry.RegistryClient):
    """The registry client of ``loopml.RegistryClient``: a policy's gates are checked when
    set, with the parser and metric names ``evaluate`` uses, so ``"acuracy >= 0.9"`` is
    refused by :meth:`set_policy` rather than found at promotion.

    Example:
        >>> policy = {"gates": ["acuracy >= 0.9"]}
        >>> loopml.RegistryClient().set_policy("churn", policy)  # doctest: +SKIP
        Traceback (most recent call last):
        loopml.errors.InvalidInputError: gate 'acuracy >= 0.9' names unknown metric 'acuracy'; ...
    """

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings, gate_check=check_policy_gates)


def registry_client_for(settings: Settings) -> RegistryClient:
    """The registry client for ``settings``: the server's when ``tracking_uri`` names one
    (``http://…``, token in ``LOOPML_TRACKING_TOKEN``), else one on the local store.

    Example:
        >>> settings = Settings.load(tracking_uri="http://127.0.0.1:5000")
        >>> type(registry_client_for(settings)).__name__
        'RemoteRegistryClient'
    """
    if is_remote(settings.tracking_uri):
        from loopml.registry.remote import RemoteRegistryClient

        # Duck-typed: it answers the calls the REST API covers and refuses the rest clearly.
        # The fluent API's client talks to the same server: share its connection (closed
        # with that client, at exit or when the settings change).
        http = shared_http(settings)
        return RemoteRegistryClient(settings, http=http)  # type: ignore[return-value]
    return RegistryClient(settings)


_shared = SharedClient(registry_client_for, remote_ok=True)


def registry_client() -> RegistryClient:
    """A registry client on the same settings as the fluent tracking API (the server's
    when ``LOOPML_TRACKING_URI`` names one)."""
    return _shared.get()


def register_model(
    source: str | os.PathLike[str] | PackageInfo,
    name: str,
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    onnx: bool | str = False,
) -> ModelVersion:
    """Register a model package as the next version of ``name`` (created if new).

    Args:
        source: ``runs:/<run_id>/<path>`` of a logged model, the ``ModelInfo`` that
            ``loopml.log_model`` returned, or a local package folder.
        name: the registered model.
        description: describes this version.
        tags: labels of this version.
        onnx: add a checked ONNX graph (scikit-learn, LightGBM, XGBoost) for
            ``load_model(uri, runtime="onnx")``; ``True`` insists, ``"if-possible"``
            registers without it when it cannot be made (see
            :meth:`loopml.registry.client.RegistryClient.register`).

    Returns:
        The new version; its ``uri`` is ``models:/<name>/<N>``.

    Raises:
        NotFoundError: no such run, package or folder (the message lists what exists).
        DigestMismatchError: a package file differs from its ``model.json``.

    Example:
        >>> loopml.register_model(f"runs:/{run.id}/model", "churn").version  # doctest: +SKIP
        1
    """
    return registry_client().register(
        source,
        name,
        description=description,
        tags=tags,
        onnx=onnx_mode(onnx),
    )


def log_model(
    model: Any,
    name: str = "model",
    *,
    register_as: str | None = None,
    **options: Unpack[PackageOptions],
) -> ModelInfo:
    """Store ``model`` as a package in the active run; with ``register_as``, register it too.

    Args:
        model, name: see :meth:`loopml.tracking.fluent.ActiveRun.log_model`.
        register_as: register the package as the next version of this model.
        **options: ``input_example``, ``signature``, ``requirements``
            (:class:`~loopml.packaging.models.PackageOptions`).

    Raises:
        InvalidInputError: no active run, or the package cannot be made.
        ConflictError: the run already has files under ``name``.

    Example:
        >>> with loopml.start_run():  # doctest: +SKIP
        ...     info = loopml.log_model(forest, input_example=x_train[:5], register_as="churn")
        >>> info.registered.uri  # doctest: +SKIP
        'models:/churn/1'
    """
    package = fluent.log_model(model, name, **options)
    run = fluent.active_run()
    assert run is not None  # fluent.log_model refuses to work without one
    return _registered(package, register_as, run.client.settings)


def log_model_in_run(
    client: TrackingClient,
    run_id: str,
    model: Any,
    name: str = "model",
    *,
    register_as: str | None = None,
    **options: Unpack[PackageOptions],
) -> ModelInfo:
    """:func:`log_model` for run ``run_id`` of ``client`` rather than the active run."""
    from loopml.tracking.model_packages import log_model_in_run as log  # numpy only when used

    package = log(client, run_id, model, name, **options)
    return _registered(package, register_as, client.settings)


def _registered(package: PackageInfo, register_as: str | None, settings: Settings) -> ModelInfo:
    fields = {field.name: getattr(package, field.name) for field in dataclasses.fields(package)}
    if register_as is None:
        return ModelInfo(**fields)
    version = registry_client_for(settings).register(package.uri, register_as)
    return ModelInfo(**fields, registered=version)
