"""The manifest of a model package: what ``model.json`` says, as a value object.

Example:
    >>> manifest = PackageManifest.from_dict({"flavor": "sklearn", "files": {}}, digest="ab")
    >>> manifest.flavor, manifest.signature, manifest.digest
    ('sklearn', None, 'ab')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopml.errors import InvalidInputError
from loopml.packaging.signature import Signature

__all__ = ["FORMAT", "PackageManifest"]

FORMAT = 1  # the newest package format this loopml writes and reads


@dataclass(frozen=True)
class PackageManifest:
    """What ``model.json`` says, plus its own ``digest`` and the package's ``size_bytes``.

    ``files`` maps each path (relative to the package) to ``(sha256, size)``. ``onnx``
    describes the ONNX graph converted from the native model, when there is one (see
    :mod:`loopml.packaging.onnx_export`); its file is one of ``files``.

    Example:
        >>> from loopml.packaging.package import read_manifest
        >>> read_manifest(folder).flavor  # doctest: +SKIP
        'sklearn'
    """

    flavor: str
    flavor_options: dict[str, Any]
    model_class: str
    signature: Signature | None
    input_example: str | None
    requirements: tuple[str, ...]
    python_version: str
    loopml_version: str
    source_run: str | None
    created_at: int
    predict_proba: bool
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    onnx: dict[str, Any] | None = None
    digest: str = ""
    size_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The body of ``model.json``."""
        body = {
            "format": FORMAT,
            "flavor": self.flavor,
            "flavor_options": self.flavor_options,
            "model_class": self.model_class,
            "signature": None if self.signature is None else self.signature.to_dict(),
            "input_example": self.input_example,
            "requirements": list(self.requirements),
            "python_version": self.python_version,
            "loopml_version": self.loopml_version,
            "source_run": self.source_run,
            "created_at": self.created_at,
            "predict_proba": self.predict_proba,
            "files": {p: {"sha256": d, "size": s} for p, (d, s) in sorted(self.files.items())},
        }
        if self.onnx is not None:  # absent otherwise: older packages keep their bytes
            body["onnx"] = self.onnx
        return body

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, digest: str = "", size_bytes: int = 0
    ) -> PackageManifest:
        if int(data.get("format", 0)) > FORMAT:
            raise InvalidInputError(
                f"this package has format {data['format']}, newer than this loopml reads "
                f"({FORMAT}); upgrade loopml to load it"
            )
        signature = data.get("signature")
        return cls(
            flavor=data["flavor"],
            flavor_options=dict(data.get("flavor_options") or {}),
            model_class=data.get("model_class", ""),
            signature=Signature.from_dict(signature) if signature else None,
            input_example=data.get("input_example"),
            requirements=tuple(data.get("requirements") or ()),
            python_version=data.get("python_version", ""),
            loopml_version=data.get("loopml_version", ""),
            source_run=data.get("source_run"),
            created_at=int(data.get("created_at") or 0),
            predict_proba=bool(data.get("predict_proba", False)),
            files={p: (f["sha256"], int(f["size"])) for p, f in data.get("files", {}).items()},
            onnx=dict(data["onnx"]) if isinstance(data.get("onnx"), Mapping) else None,
            digest=digest,
            size_bytes=size_bytes,
        )
