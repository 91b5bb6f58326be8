"""Logging a model package into a run (registering it is the SDK's ``loopml.log_model``).

Example:
    >>> log_model_in_run(client, run_id, forest, "model", input_example=x[:5])  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Unpack

from loopml.artifacts import safe_artifact_path
from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.packaging.models import PackageInfo, PackageOptions
from loopml.packaging.onnx_export import add_onnx, onnx_mode
from loopml.packaging.package import save_package
from loopml.tracking.client import TrackingClient
from loopml.uris import run_uri

__all__ = ["log_model_in_run"]


def log_model_in_run(
    client: TrackingClient,
    run_id: str,
    model: Any,
    name: str = "model",
    **options: Unpack[PackageOptions],
) -> PackageInfo:
    """Save ``model`` as a package and store it under ``name`` in the run.

    ``onnx`` adds a checked ONNX graph to the package (see
    :func:`loopml.packaging.onnx_export.add_onnx`): ``True`` insists, ``"if-possible"``
    logs the package without it when conversion fails.

    Raises:
        InvalidInputError: ``name`` is empty or unsafe, or the package cannot be made.
        OnnxConversionError: ``onnx=True`` and the graph cannot be made or differs.
        ConflictError: the run already has files under ``name``.
    """
    unknown = sorted(set(options) - set(PackageOptions.__annotations__))
    if unknown:  # what Python says of a keyword the signature does not take
        raise TypeError(f"log_model() got unexpected keyword argument(s): {', '.join(unknown)}")
    mode = onnx_mode(options.pop("onnx", False))
    path = safe_artifact_path(name)
    if not path:
        raise InvalidInputError("name must name a folder in the run, e.g. 'model'")
    _refuse_taken(client, run_id, path)
    with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
        manifest = save_package(
            model,
            Path(tmp) / "package",
            input_example=options.get("input_example"),
            signature=options.get("signature"),
            requirements=options.get("requirements"),
            source_run=run_id,
        )
        if mode != "off":
            report = add_onnx(Path(tmp) / "package", required=mode == "required")
            manifest = report.manifest
        client.log_artifacts(run_id, Path(tmp) / "package", path)
    return PackageInfo(
        uri=run_uri(run_id, path),
        run_id=run_id,
        path=path,
        flavor=manifest.flavor,
        signature=None if manifest.signature is None else manifest.signature.to_dict(),
        package_digest=manifest.digest,
        size_bytes=manifest.size_bytes,
        files={file: digest for file, (digest, _) in manifest.files.items()},
    )


def _refuse_taken(client: TrackingClient, run_id: str, path: str) -> None:
    try:
        taken = client.run_artifacts.list(run_id, path)
    except NotFoundError:
        return
    if taken:
        raise ConflictError(
            f"run {run_id} already has files under '{path}'; log the model under another "
            "name (log_model(model, name='model-2'))"
        )
