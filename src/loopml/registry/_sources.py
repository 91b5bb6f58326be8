"""What a registration reads before its transaction: the package's files and ``model.json``.

A package logged in a run (``runs:/<id>/model``) is already stored; its ``model.json``
is read from the artifact store (verified against its digest) and every file it lists is
checked against the digests the run recorded. A local package folder is verified file by
file (:func:`loopml.registry.package.verify_package`) and stored first. Either way the
version gets exactly the files ``model.json`` lists, plus ``model.json`` itself.

Example:
    >>> source = from_run(conn, artifacts, parse_uri("runs:/01J0/model"))  # doctest: +SKIP
    >>> source.flavor, source.digest[:8]  # doctest: +SKIP
    ('sklearn', '5f1c09ab')
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from loopml.artifacts import ArtifactStore, ManifestEntry
from loopml.errors import IntegrityError, InvalidInputError, NotFoundError
from loopml.registry._files import MANIFEST, files_of, locate
from loopml.registry.flavors import check_flavor
from loopml.uris import LoopmlURI

__all__ = ["FORMAT", "PackageSource", "from_folder", "from_run", "package_files"]

FORMAT = 1  # the newest package format this loopml reads
_MAX_FLAVOR = 32


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
        IntegrityError: a file ``model.json`` lists is missing or differs.
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
        IntegrityError: a file differs from what ``model.json`` says (each one named).
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
            "loopml.registry.package.save_package(model, folder)",
        )
    from loopml.registry.package import verify_package  # it imports the flavors' helpers

    verify_package(root)
    parse_manifest((root / MANIFEST).read_bytes(), str(root))  # refuse before storing
    entries = artifacts.put_tree(root)
    manifest_entry = next(e for e in entries if e.path == MANIFEST)
    manifest = parse_manifest(artifacts.get_bytes(manifest_entry.digest), str(root))
    files = package_files(manifest, entries, str(root))
    return PackageSource(str(root), None, tuple(files), manifest["flavor"], manifest_entry.digest)


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """``model.json``'s content, with the fields registration needs checked.

    The flavor must be built in or an importable class with every Flavor member
    (:func:`~loopml.registry.flavors.check_flavor`), so a package naming, say,
    ``py:os:system?command=…`` is refused when it is registered.
    """
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInputError(
            f"{where}: model.json is not JSON ({err}); log the model again"
        ) from err
    if not isinstance(manifest, dict):
        raise InvalidInputError(f"{where}: model.json must hold an object; log the model again")
    version = manifest.get("format")
    if isinstance(version, int) and version > FORMAT:
        raise InvalidInputError(
            f"{where}: package format {version} is newer than this loopml reads ({FORMAT}); "
            "upgrade loopml"
        )
    flavor = manifest.get("flavor")
    if not isinstance(flavor, str) or not flavor or len(flavor) > _MAX_FLAVOR:
        raise InvalidInputError(f"{where}: model.json names no flavor; log the model again")
    check_flavor(flavor, where)
    if not isinstance(manifest.get("files"), dict):
        raise InvalidInputError(f"{where}: model.json lists no files; log the model again")
    return manifest


def package_files(
    manifest: dict[str, Any], entries: Sequence[ManifestEntry], where: str
) -> list[ManifestEntry]:
    """The stored entries ``model.json`` lists (plus itself), each checked against it.

    Files stored beside the package but not listed in ``model.json`` are left out.

    Raises:
        IntegrityError: naming every listed file that is missing or has another digest.
    """
    stored = {entry.path: entry for entry in entries}
    problems = []
    kept = [stored[MANIFEST]]
    for path, info in sorted(manifest["files"].items()):
        entry = stored.get(path)
        digest = info.get("sha256") if isinstance(info, dict) else None
        if entry is None:
            problems.append(f"file {path} is missing")
        elif entry.digest != digest:
            problems.append(
                f"file {path} changed after it was logged (sha256 {entry.digest} != {digest})"
            )
        else:
            kept.append(entry)
    if problems:
        raise IntegrityError(
            f"{where} does not match its model.json: {'; '.join(problems)}; re-log the model",
            details={"problems": problems},
        )
    return sorted(kept, key=lambda entry: entry.path)
