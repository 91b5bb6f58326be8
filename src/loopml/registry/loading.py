"""Loading a model by URI: ``models:/name/3``, ``models:/name@alias``, ``runs:/id/path``.

The store says which files make the package (a registered version's, or a run's); the
package itself is fetched, verified and loaded by :mod:`loopml.packaging.loading`.

Example:
    >>> model = load_model("models:/churn@production")  # doctest: +SKIP
    >>> model.predict(frame)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from loopml._remote import JsonHttp, is_remote
from loopml.artifacts import ArtifactStore, ManifestEntry, local_target
from loopml.config import Settings
from loopml.errors import NotFoundError
from loopml.packaging.devices import CPU
from loopml.packaging.loading import LoadedModel, Runtime, check_runtime, load_package, load_stored
from loopml.packaging.package import MANIFEST
from loopml.registry import _files
from loopml.registry.models import ModelVersion
from loopml.store import open_store
from loopml.uris import LoopmlURI, is_uri, parse_uri

__all__ = ["load_model", "load_version"]


def load_model(
    uri_or_path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    trusted: Sequence[str] = (),
    runtime: Runtime = "native",
    device: str = CPU,
) -> LoadedModel:
    """Load a model from ``models:/name/3``, ``models:/name@alias``, ``runs:/id/path`` or a folder.

    Packages from the store are fetched once into ``<home>/cache/packages`` and verified
    on every load; a cached copy that fails verification is fetched again.

    Args:
        uri_or_path: the model's URI, or a local package folder.
        settings: where the store is; default :meth:`Settings.load`.
        trusted: see :func:`~loopml.packaging.loading.load_package`.
        runtime: ``"native"`` (the package's flavor; default) or ``"onnx"`` (the ONNX
            graph converted at registration, run by onnxruntime).
        device: ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"`` (torch and ONNX only).

    Raises:
        NotFoundError: no such run, model, version, alias, package or folder; the
            message lists what exists.
        DigestMismatchError, UntrustedTypesError, DeviceUnavailableError: see
            :func:`~loopml.packaging.loading.load_package`.
        InvalidInputError: an unknown runtime or device, or ``runtime="onnx"`` for a
            version registered without ONNX.

    Example:
        >>> import loopml
        >>> model = loopml.load_model("models:/churn/3")  # doctest: +SKIP
        >>> fast = loopml.load_model("models:/churn/3", runtime="onnx")  # doctest: +SKIP
    """
    check_runtime(runtime, device)
    text = os.fspath(uri_or_path)
    if is_uri(uri_or_path):
        settings = settings or Settings.load()
        if is_remote(settings.tracking_uri):
            return _load_from_server(text, settings, trusted, runtime=runtime, device=device)
        return _load_uri(parse_uri(text), settings, trusted, runtime=runtime, device=device)
    path = Path(text)
    if not (path / MANIFEST).is_file():
        raise NotFoundError(
            "model package folder",
            text,
            hint="give a folder with model.json, or a URI: runs:/<run_id>/<path>, "
            "models:/<name>/<version> or models:/<name>@<alias>",
        )
    return load_package(path, trusted=trusted, runtime=runtime, device=device)


def load_version(
    version: ModelVersion,
    *,
    settings: Settings | None = None,
    trusted: Sequence[str] = (),
    runtime: Runtime = "native",
    device: str = CPU,
) -> LoadedModel:
    """Load the package of a version already resolved (by :meth:`RegistryClient.resolve`).

    What :func:`load_model` does for ``version.uri``, without looking the version up
    again: the version an alias pointed at when it was resolved is the one loaded, even
    if the alias has moved since. ``runtime`` and ``device`` as in :func:`load_model`.

    Example:
        >>> version = client.resolve("models:/churn@production")  # doctest: +SKIP
        >>> model = load_version(version)  # doctest: +SKIP
    """
    check_runtime(runtime, device)
    settings = settings or Settings.load()
    location = _files.version_location(version.model, version.version, version.id)
    with open_store(settings.db_url).read() as conn:
        entries = _files.files_of(conn, location)
    return _load_entries(location, entries, settings, trusted, runtime=runtime, device=device)


def _load_uri(
    uri: LoopmlURI,
    settings: Settings,
    trusted: Sequence[str],
    *,
    runtime: Runtime,
    device: str,
) -> LoadedModel:
    with open_store(settings.db_url).read() as conn:
        location = _files.locate(conn, uri)
        entries = _files.files_of(conn, location)
    return _load_entries(location, entries, settings, trusted, runtime=runtime, device=device)


def _load_from_server(
    uri: str,
    settings: Settings,
    trusted: Sequence[str],
    *,
    runtime: Runtime,
    device: str,
) -> LoadedModel:
    """Load a package the server ``settings.tracking_uri`` stores: its files are fetched
    into the local package cache (each checked against its SHA-256) and loaded there."""
    from loopml._remote import TOKEN_ENV

    http = JsonHttp(settings.tracking_uri, os.environ.get(TOKEN_ENV))
    try:
        listed = http.request("GET", "/api/v1/packages", query={"uri": uri})
        entries = [
            ManifestEntry(path=f["path"], digest=f["digest"], size=int(f["size"]))
            for f in listed["files"]
        ]
        return load_stored(
            settings,
            _ServerFiles(http, uri),
            entries,
            uri=listed["uri"],
            trusted=trusted,
            runtime=runtime,
            device=device,
        )
    finally:
        http.close()


class _ServerFiles:
    """A package's files fetched from a loopml server (resuming, verified)."""

    def __init__(self, http: JsonHttp, uri: str) -> None:
        self.http, self.uri = http, uri

    def get_tree(self, entries: Sequence[ManifestEntry], directory: Path) -> None:
        from loopml import _transfer
        from loopml._remote import ServerUnreachable, error_from

        for entry in entries:
            target = local_target(directory, entry.path)
            url = (
                f"{self.http.url}/api/v1/packages/files/"
                + "/".join(urllib.parse.quote(part, safe="") for part in entry.path.split("/"))
                + "?"
                + urllib.parse.urlencode({"uri": self.uri})
            )
            try:
                _transfer.retrying(
                    functools.partial(
                        _transfer.download,
                        url,
                        target,
                        sha256=entry.digest,
                        size=entry.size,
                        headers=self.http.headers(),
                    ),
                    10.0,
                    errors=(_transfer.Unreachable,),
                )
            except _transfer.Unreachable as err:
                raise ServerUnreachable(
                    f"cannot fetch {entry.path} of {self.uri} from {self.http.url} ({err}); "
                    "load it again when the server answers"
                ) from err
            except _transfer.TransferError as err:
                raise error_from(int(err.details.get("status", 500)), err.body) from err


def _load_entries(
    location: _files.PackageLocation,
    entries: list[ManifestEntry],
    settings: Settings,
    trusted: Sequence[str],
    *,
    runtime: Runtime,
    device: str,
) -> LoadedModel:
    artifacts = ArtifactStore.from_url(settings.artifacts_url)
    return load_stored(
        settings,
        artifacts,
        entries,
        uri=location.uri,
        trusted=trusted,
        runtime=runtime,
        device=device,
    )
