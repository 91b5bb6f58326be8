"""ONNX at registration: the version's package gains a checked ``model.onnx``.

Before the registration's transaction, the package is fetched (verified), copied, and
:func:`loopml.packaging.onnx_export.add_onnx` converts and checks its model in the copy.
The copy, with the graph and a new ``model.json``, is stored and becomes the version's
package; the run's own package is never changed. ``"required"`` (``onnx=True``) refuses
the registration when conversion fails or the graph answers differently;
``"if-possible"`` registers the package without the graph and says why (a warning, and
the ``model_version.created`` event's ``onnx`` entry).

Example:
    >>> package, note = with_onnx(settings, artifacts, package, "required")  # doctest: +SKIP
    >>> note  # doctest: +SKIP
    {'added': True, 'max_abs_diff': 2.4e-08}
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from loopml.artifacts import ArtifactStore
from loopml.config import Settings
from loopml.packaging import stored
from loopml.packaging.onnx_export import OnnxMode, add_onnx
from loopml.packaging.package import MANIFEST, verify_package
from loopml.registry._sources import PackageSource

__all__ = ["with_onnx"]

log = logging.getLogger("loopml.registry")


def with_onnx(
    settings: Settings, artifacts: ArtifactStore, package: PackageSource, mode: OnnxMode
) -> tuple[PackageSource, dict[str, Any] | None]:
    """``package`` with a checked ONNX graph added (when ``mode`` asks), and what happened.

    Raises:
        OnnxConversionError, MissingDependencyError: ``mode`` is ``"required"`` and the
            graph could not be made or differs from the native model.
    """
    if mode == "off":
        return package, None
    folder, digest = stored.fetch(settings, artifacts, package.entries)
    verify_package(folder, digest)
    scratch = Path(tempfile.mkdtemp(prefix="loopml-onnx-"))
    try:
        copy = scratch / "package"
        shutil.copytree(folder, copy)
        report = add_onnx(copy, required=mode == "required")
        if not report.added:
            log.warning(
                "%s is registered without ONNX: %s", package.source, report.reason or "no graph"
            )
            return package, {"added": False, "reason": report.reason}
        if report.manifest.digest == package.digest:  # it had its graph already
            return package, {"added": True}
        entries = artifacts.put_tree(copy)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    manifest = next(entry for entry in entries if entry.path == MANIFEST)
    files = stored.package_files(report.manifest.to_dict(), entries, package.source)
    updated = PackageSource(
        package.source, package.run_id, tuple(files), package.flavor, manifest.digest
    )
    return updated, {"added": True, "max_abs_diff": report.max_abs_diff}
