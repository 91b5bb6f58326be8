"""The model registry: model packages, versions, aliases, approvals, events.

A model package is a folder: the serialized model (one flavor: sklearn, lightgbm,
xgboost, torch, onnx or pyfunc) and ``model.json`` with its signature, input example,
pinned requirements and the digest of every file. The registry turns packages into
numbered versions of named models, points aliases (``production``, ``canary``) at them
with full history, and guards promotion with a per-model policy.

Names load on first use, so a run can reach the package code without the client.

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
    from loopml.registry.card import model_card
    from loopml.registry.client import ANY, RegistryClient
    from loopml.registry.loading import LoadedModel, load_model
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
    from loopml.registry.package import PackageManifest, save_package, verify_package
    from loopml.registry.signature import Signature, check_input, infer_signature

_EXPORTS = {
    "ANY": "loopml.registry.client",
    "RegistryClient": "loopml.registry.client",
    "LoadedModel": "loopml.registry.loading",
    "load_model": "loopml.registry.loading",
    "model_card": "loopml.registry.card",
    "PackageManifest": "loopml.registry.package",
    "save_package": "loopml.registry.package",
    "verify_package": "loopml.registry.package",
    "Signature": "loopml.registry.signature",
    "check_input": "loopml.registry.signature",
    "infer_signature": "loopml.registry.signature",
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
    "model_card",
    "save_package",
    "verify_package",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
