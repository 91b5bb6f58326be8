"""Model packages: a folder holding a model and everything needed to trust and run it.

A package is the serialized model (one flavor: sklearn, lightgbm, xgboost, torch, onnx or
pyfunc) and ``model.json`` with its signature, input example, pinned requirements and the
digest of every file. Tracking logs packages in runs, the registry turns them into
versions, and serving loads them; this package knows nothing of runs or versions.

Names load on first use, so ``import loopml.packaging`` pulls in neither numpy nor a
model library.

Example:
    >>> from loopml.packaging import load_package, save_package
    >>> manifest = save_package(model, "out/churn", input_example=x[:5])  # doctest: +SKIP
    >>> load_package("out/churn").predict(x)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml._lazy import lazy_getattr

if TYPE_CHECKING:
    from loopml.packaging.flavors import FLAVORS, Flavor, Predictor, flavor_for, get_flavor
    from loopml.packaging.loading import LoadedModel, load_object, load_package, load_stored
    from loopml.packaging.models import PackageInfo
    from loopml.packaging.package import (
        MANIFEST,
        PackageManifest,
        read_manifest,
        requirement_drift,
        save_package,
        verify_package,
    )
    from loopml.packaging.signature import Signature, check_input, infer_signature

_EXPORTS = {
    **dict.fromkeys(
        ("FLAVORS", "Flavor", "Predictor", "flavor_for", "get_flavor"), "loopml.packaging.flavors"
    ),
    **dict.fromkeys(
        ("LoadedModel", "load_object", "load_package", "load_stored"), "loopml.packaging.loading"
    ),
    "PackageInfo": "loopml.packaging.models",
    **dict.fromkeys(
        (
            "MANIFEST",
            "PackageManifest",
            "read_manifest",
            "requirement_drift",
            "save_package",
            "verify_package",
        ),
        "loopml.packaging.package",
    ),
    **dict.fromkeys(("Signature", "check_input", "infer_signature"), "loopml.packaging.signature"),
}

__all__ = [
    "FLAVORS",
    "MANIFEST",
    "Flavor",
    "LoadedModel",
    "PackageInfo",
    "PackageManifest",
    "Predictor",
    "Signature",
    "check_input",
    "flavor_for",
    "get_flavor",
    "infer_signature",
    "load_object",
    "load_package",
    "load_stored",
    "read_manifest",
    "requirement_drift",
    "save_package",
    "verify_package",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
