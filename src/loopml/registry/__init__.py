"""The model registry: versions, aliases, approvals, events.

The registry turns model packages (:mod:`loopml.packaging`) into numbered versions of
named models, points aliases (``production``, ``canary``) at them with full history, and
guards promotion with a per-model policy. The package names (``save_package``,
``Signature``, ``LoadedModel``, …) are re-exported here for code that imports them from
the registry.

Names load on first use.

Example:
    >>> from loopml.registry import RegistryClient
    >>> client = RegistryClient()  # doctest: +SKIP
    >>> client.register("runs:/01J…/model", "churn").uri  # doctest: +SKIP
    'models:/churn/1'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml._lazy import lazy_getattr

if TYPE_CHECKING:
    from loopml.packaging.loading import LoadedModel
    from loopml.packaging.package import PackageManifest, save_package, verify_package
    from loopml.packaging.signature import Signature, check_input, infer_signature
    from loopml.registry.card import model_card
    from loopml.registry.client import ANY, RegistryClient
    from loopml.registry.loading import load_model, load_version
    from loopml.registry.models import (
        AliasChange,
        Approval,
        ModelInfo,
        ModelVersion,
        PromotionPolicy,
        RegisteredModel,
        RegistryEvent,
        VersionStatus,
    )

_EXPORTS = {
    "ANY": "loopml.registry.client",
    "RegistryClient": "loopml.registry.client",
    "LoadedModel": "loopml.packaging.loading",
    "load_model": "loopml.registry.loading",
    "load_version": "loopml.registry.loading",
    "model_card": "loopml.registry.card",
    "PackageManifest": "loopml.packaging.package",
    "save_package": "loopml.packaging.package",
    "verify_package": "loopml.packaging.package",
    "Signature": "loopml.packaging.signature",
    "check_input": "loopml.packaging.signature",
    "infer_signature": "loopml.packaging.signature",
    **dict.fromkeys(
        (
            "AliasChange",
            "Approval",
            "ModelInfo",
            "ModelVersion",
            "PromotionPolicy",
            "RegisteredModel",
            "RegistryEvent",
            "VersionStatus",
        ),
        "loopml.registry.models",
    ),
}

__all__ = [
    "ANY",
    "AliasChange",
    "Approval",
    "LoadedModel",
    "ModelInfo",
    "ModelVersion",
    "PackageManifest",
    "PromotionPolicy",
    "RegisteredModel",
    "RegistryClient",
    "RegistryEvent",
    "Signature",
    "VersionStatus",
    "check_input",
    "infer_signature",
    "load_model",
    "load_version",
    "model_card",
    "save_package",
    "verify_package",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
