"""Registering models from the SDK: ``loopml.register_model``.

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

import os
import threading
from collections.abc import Mapping

from loopml.config import Settings
from loopml.evaluation.gates import check_policy_gates
from loopml.registry import client as _registry
from loopml.registry.models import ModelInfo, ModelVersion
from loopml.tracking.fluent import default_client

__all__ = ["RegistryClient", "register_model", "registry_client"]


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


_lock = threading.Lock()
_client: RegistryClient | None = None


def registry_client() -> RegistryClient:
    """A registry client on the same settings as the fluent tracking API."""
    global _client
    settings = default_client().settings
    with _lock:
        if _client is None or _client.settings != settings:
            _client = RegistryClient(settings)
        return _client


def register_model(
    source: str | os.PathLike[str] | ModelInfo,
    name: str,
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> ModelVersion:
    """Register a model package as the next version of ``name`` (created if new).

    Args:
        source: ``runs:/<run_id>/<path>`` of a logged model, the ``ModelInfo`` that
            ``loopml.log_model`` returned, or a local package folder.
        name: the registered model.
        description: describes this version.
        tags: labels of this version.

    Returns:
        The new version; its ``uri`` is ``models:/<name>/<N>``.

    Raises:
        NotFoundError: no such run, package or folder (the message lists what exists).
        IntegrityError: a package file differs from its ``model.json``.

    Example:
        >>> loopml.register_model(f"runs:/{run.id}/model", "churn").version  # doctest: +SKIP
        1
    """
    return registry_client().register(source, name, description=description, tags=tags)
