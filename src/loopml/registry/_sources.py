"""What a registration reads before its transaction: the package's files and ``model.json``.

A package logged in a run (``runs:/<id>/model``) is already stored; its ``model.json``
is read from the artifact store (verified against its digest) and every file it lists is
checked against the digests the run recorded. A local package folder is verified file by
file (:func:`loopml.packaging.package.verify_package`) and stored first. Either way the
version gets exactly the files ``model.json`` lists, plus ``model.json`` itself.

Example:
    >>> source = from_run(conn, artifacts, parse_uri("runs:/01J0/model"))  # doctest: +SKIP
    >>> source.flavor, source.digest[:8]  # doctest: +SKIP
    ('sklearn', '5f1c09ab')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from loopml.artifacts import ArtifactStore, ManifestEntry
from loopml.errors import InvalidInputError, NotFoundError
from loopml.packaging.package import MANIFEST, verify_package
from loopml.packaging.stored import package_files, parse_manifest
from loopml.registry._files import files_of, locate
from loopml.uris import LoopmlURI

__all__ = ["PackageSource", "from_folder", "from_run"]


@dataclass(frozen=True, slots=True)
class PackageSource:
    """A stored package about to become a version.

    Attributes:
        source: the ``runs:/…`` URI or the folder's absolute path.
        run_id: the run that logged it, if any (lineage: run --produced--> version).
        entries: its files relative to the package folder, ``model.json`` included.
        flavor: ``model.json``'s flavor.
        digest: the SHA-256 of ``model.json`` (the version's ``package_digest``).
    """

    source: str
    run_id: str | None
    entries: tuple[ManifestEntry, ...]
    flavor: str
    digest: str

    @property
    def size_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)


def from_run(conn: Connection, artifacts: ArtifactStore, uri: LoopmlURI) -> PackageSource:
    """The package logged at ``runs:/<id>/<path>``.

    Raises:
        NotFoundError: no such run, or no package at that path (the message lists the
            run's packages).
        DigestMismatchError: a file ``model.json`` lists is missing or differs.
        InvalidInputError: ``model.json`` is not a package manifest loopml reads.
    """
    if uri.scheme != "runs":
        raise InvalidInputError(
            f"cannot register '{uri}': give the runs:/<run_id>/<path> URI of a logged "
            "package, or a local package folder"
            + (
                " (models:/ names a version that is already registered)"
                if uri.scheme == "models"
                else ""
            )
        )
    location = locate(conn, uri)
    entries = files_of(conn, location)
    manifest_entry = next((e for e in entries if e.path == MANIFEST), None)
    if manifest_entry is None:  # locate found it, so only a concurrent change gets here
        raise NotFoundError("model package", str(uri), hint="log the model again")
    manifest = parse_manifest(artifacts.get_bytes(manifest_entry.digest), str(uri))
    files = package_files(manifest, entries, str(uri))
    return PackageSource(
        str(uri), location.run_id, tuple(files), manifest["flavor"], manifest_entry.digest
    )


def from_folder(artifacts: ArtifactStore, folder: Path) -> PackageSource:
    """The package in a local folder, verified and stored in ``artifacts``.

    Raises:
        NotFoundError: the folder or its ``model.json`` does not exist.
        DigestMismatchError: a file differs from what ``model.json`` says (each one named).
    """
    root = folder.expanduser().absolute()
    if not root.is_dir():
        raise NotFoundError(
            "model package folder",
            str(root),
            hint="give a folder written by loopml.log_model / save_package, or a runs:/ URI",
        )
    if not (root / MANIFEST).is_file():
        raise NotFoundError(
            "model.json",
            str(root / MANIFEST),
            hint=f"{root} is not a model package; save one with "
            "loopml.packaging.package.save_package(model, folder)",
        )
    verify_package(root)
    parse_manifest((root / MANIFEST).read_bytes(), str(root))  # refuse before storing
    entries = artifacts.put_tree(root)
    manifest_entry = next(e for e in entries if e.path == MANIFEST)
    manifest = parse_manifest(artifacts.get_bytes(manifest_entry.digest), str(root))
    files = package_files(manifest, entries, str(root))
    return PackageSource(str(root), None, tuple(files), manifest["flavor"], manifest_entry.digest)
