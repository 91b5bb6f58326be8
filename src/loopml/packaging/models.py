"""The packaging value objects: what logging a package gives back.

Example:
    >>> info = PackageInfo("runs:/01J0/model", "01J0", "model", "sklearn", None, "ab12", 1024)
    >>> info.uri
    'runs:/01J0/model'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from loopml.packaging.signature import Signature

__all__ = ["PackageInfo", "PackageOptions"]


class PackageOptions(TypedDict, total=False):
    """What a package holds besides the model, as every ``log_model`` takes it.

    Written once so the SDK, the fluent API and a run's ``log_model`` forward the same
    keywords (``**options: Unpack[PackageOptions]``) instead of each listing them.

    Keys:
        input_example: a few rows of input; the signature is inferred from it (a torch
            model needs one: export traces it).
        signature: the signature, when it should not be inferred.
        requirements: extra requirement lines to pin (``"pkg==1.2"``).
        onnx: add a checked ONNX graph (scikit-learn, LightGBM, XGBoost): ``True``
            insists, ``"if-possible"`` logs without it when conversion fails.
    """

    input_example: Any
    signature: Signature | Mapping[str, Any] | None
    requirements: Sequence[str] | None
    onnx: bool | str


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """What ``log_model`` stored: where the package is and what it says about itself."""

    uri: str  # runs:/<run_id>/<path>
    run_id: str | None
    path: str
    flavor: str
    signature: dict[str, Any] | None
    package_digest: str
    size_bytes: int
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256
