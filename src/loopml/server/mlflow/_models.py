"""An MLflow model folder in a run, made a loopml package so loopml can register it.

MLflow registers a version from a *source*: ``runs:/<run>/<path>``, or (2.x clients) the
run's artifact URI plus the path (``mlflow-artifacts:/<exp>/<run>/artifacts/<path>``).
:func:`package_in_run` finds that folder among the run's files. A folder holding a loopml
``model.json`` is registered as it is; one holding MLflow's ``MLmodel`` gets a
``model.json`` written beside MLflow's files (never changing them), naming the
:mod:`~loopml.packaging.flavors.mlflow` flavor and the digest of every file, so the
version is an ordinary loopml package: verified on load, and loaded without ``mlflow``.
Nothing is unpickled here (see the flavor for when loopml will).

Example:
    >>> package_in_run(ctx, "runs:/01J0ABC/model", None)  # doctest: +SKIP
    'runs:/01J0ABC/model'
"""

from __future__ import annotations

import json
import platform
import re
import sys
from typing import Any

from loopml.artifacts.models import ManifestEntry
from loopml.clock import now_ms
from loopml.errors import InvalidInputError, NotFoundError
from loopml.packaging.package import FORMAT, MANIFEST
from loopml.server._context import ServerContext
from loopml.uris import is_uri, parse_uri, run_uri

__all__ = ["MLMODEL", "package_in_run", "run_path_of"]

MLMODEL = "MLmodel"
_ARTIFACTS = re.compile(r"/(?P<run>[0-9A-Za-z]{20,40})/artifacts(?:/(?P<path>.*))?$")


def run_path_of(source: str, run_id: str | None) -> tuple[str, str]:
    """The run and the folder inside it that an MLflow ``source`` names.

    Raises:
        InvalidInputError: a source that names no run's folder (the message shows the forms).
    """
    if is_uri(source, "runs"):
        uri = parse_uri(source)
        return uri.name, uri.path or ""
    found = _ARTIFACTS.search(source.rstrip("/"))
    if found is not None and (run_id is None or found["run"] == run_id):
        return found["run"], found["path"] or ""
    raise InvalidInputError(
        f"cannot register source {source!r}: loopml registers models logged in its runs; "
        "give runs:/<run_id>/<path>, or the run's artifact URI plus the path "
        "(.../<run_id>/artifacts/<path>)",
        details={"source": source},
    )


def package_in_run(ctx: ServerContext, run_id: str, path: str) -> str:
    """``runs:/<run_id>/<path>``, after making sure a loopml package is there.

    Raises:
        NotFoundError: no such run, or neither ``model.json`` nor ``MLmodel`` at ``path``.
        InvalidInputError: ``MLmodel`` is not MLflow's YAML.
    """
    artifacts = ctx.tracking.run_artifacts
    entries = _files_below(ctx, run_id, path)
    names = {entry.path for entry in entries}
    uri = run_uri(run_id, path)
    if MANIFEST in names:
        return uri
    if MLMODEL not in names:
        raise NotFoundError(
            "model",
            uri,
            hint=f"{uri} holds neither an MLflow model (MLmodel) nor a loopml package "
            "(model.json); log the model first (mlflow.<flavor>.log_model)",
        )
    prefix = f"{path}/" if path else ""
    mlmodel = _read_mlmodel(artifacts.read_bytes(run_id, prefix + MLMODEL), uri)
    manifest = _manifest(mlmodel, entries, run_id)
    artifacts.log_bytes(run_id, json.dumps(manifest, indent=2).encode(), prefix + MANIFEST)
    return uri


def _files_below(ctx: ServerContext, run_id: str, path: str) -> list[ManifestEntry]:
    """Every file under ``path`` of the run, relative to it."""
    artifacts = ctx.tracking.run_artifacts
    found: list[ManifestEntry] = []
    folders = [path]
    cut = len(path) + 1 if path else 0
    while folders:
        for entry in artifacts.list(run_id, folders.pop()):
            if entry.is_dir:
                folders.append(entry.path)
            else:
                found.append(ManifestEntry(entry.path[cut:], entry.digest or "", entry.size or 0))
    return found


def _read_mlmodel(data: bytes, uri: str) -> dict[str, Any]:
    import yaml

    try:
        parsed = yaml.safe_load(data)
    except yaml.YAMLError as err:
        raise InvalidInputError(f"{uri}/MLmodel is not YAML ({err}); log the model again") from err
    if not isinstance(parsed, dict) or not isinstance(parsed.get("flavors"), dict):
        raise InvalidInputError(f"{uri}/MLmodel names no flavors; log the model again")
    return parsed


def _manifest(mlmodel: dict[str, Any], entries: list[ManifestEntry], run_id: str) -> dict[str, Any]:
    flavors: dict[str, Any] = mlmodel["flavors"]
    options: dict[str, Any] = {"mlflow_flavors": sorted(flavors)}
    sklearn = flavors.get("sklearn")
    if isinstance(sklearn, dict) and sklearn.get("pickled_model"):
        options.update(
            mlflow_flavor="sklearn",
            file=str(sklearn["pickled_model"]),
            serialization_format=str(sklearn.get("serialization_format", "cloudpickle")),
        )
    pyfunc = flavors.get("python_function") or {}
    files = {e.path: {"sha256": e.digest, "size": e.size} for e in entries if e.path != MANIFEST}
    return {
        "format": FORMAT,
        "flavor": "mlflow",
        "flavor_options": options,
        "model_class": str(pyfunc.get("loader_module", "")),
        "signature": None,
        "input_example": None,
        "requirements": _requirements(flavors),
        "python_version": str(pyfunc.get("python_version", platform.python_version())),
        "loopml_version": _loopml_version(),
        "source_run": run_id,
        "created_at": now_ms(),
        "predict_proba": False,
        "files": dict(sorted(files.items())),
        "mlflow": {"model_id": mlmodel.get("model_id"), "run_id": mlmodel.get("run_id")},
    }


def _requirements(flavors: dict[str, Any]) -> list[str]:
    sklearn = flavors.get("sklearn")
    if isinstance(sklearn, dict) and sklearn.get("sklearn_version"):
        return [f"scikit-learn=={sklearn['sklearn_version']}"]
    return []


def _loopml_version() -> str:
    # The root package is imported before any submodule; importing it here by name
    # would reach up the floors.
    return str(sys.modules["loopml"].__version__)
