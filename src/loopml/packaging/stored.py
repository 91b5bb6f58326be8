"""Stored packages: a package as blobs in an artifact store, checked and fetched.

A stored package is a list of :class:`~loopml.artifacts.ManifestEntry` (path relative to
the package folder, digest, size), wherever those rows come from (a run's files, a
registered version's). ``model.json`` is checked before a package is accepted
(:func:`parse_manifest`), every file it lists is matched against the stored digests
(:func:`package_files`), and :func:`fetch` copies the files into the local cache,
``<home>/cache/packages/<model.json digest>``; loading verifies them again, so a changed
cache is caught like a changed blob.

Example:
    >>> manifest = parse_manifest(artifacts.get_bytes(entry.digest), uri)  # doctest: +SKIP
    >>> folder, digest = fetch(settings, artifacts, entries)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from loopml.artifacts import ArtifactStore, ManifestEntry, local_target
from loopml.config import Settings
from loopml.errors import DigestMismatchError, InvalidInputError, NotFoundError, quote
from loopml.packaging._manifest import FORMAT
from loopml.packaging.flavors import check_flavor
from loopml.packaging.package import MANIFEST

__all__ = ["TreeSource", "fetch", "package_files", "parse_manifest"]

_MAX_FLAVOR = 255  # model_versions.flavor's width


class TreeSource(Protocol):
    """Where a package's files come from: an :class:`ArtifactStore`, or a loopml server
    (``loopml.load_model`` in remote mode)."""

    def get_tree(self, entries: Sequence[ManifestEntry], directory: Path) -> None: ...


def fetch(
    settings: Settings,
    artifacts: ArtifactStore | TreeSource,
    entries: Sequence[ManifestEntry],
) -> tuple[Path, str]:
    """A local folder with the package's files, and the digest ``model.json`` must have.

    The folder is shared by every load of the same package; it is written beside its
    final place and renamed into it, so a reader never sees a half-fetched package.

    Raises:
        NotFoundError: the package has no ``model.json``.
        DigestMismatchError: a blob in the artifact store does not match its digest.
        UnsafePathError: a stored path is unsafe, or the cache folder is reached through
            a symbolic link inside the home.
    """
    manifest = next((e for e in entries if e.path == MANIFEST), None)
    if manifest is None:
        raise NotFoundError("model.json", "package", hint="the package is incomplete")
    # No link inside the home may redirect the cache: the package would be written there.
    folder = local_target(settings.home, f"cache/packages/{manifest.digest}")
    root = folder.parent
    if folder.is_dir():
        return folder, manifest.digest
    root.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{manifest.digest[:12]}-", dir=root))
    try:
        artifacts.get_tree(entries, partial)
        try:
            os.rename(partial, folder)
        except OSError:
            if not folder.is_dir():  # another process won the race with the same files
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder, manifest.digest


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """``model.json``'s content, with the fields registration needs checked.

    The flavor must be built in or an importable class with every Flavor member
    (:func:`~loopml.packaging.flavors.check_flavor`), so a package naming, say,
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
    if not isinstance(flavor, str) or not flavor:
        raise InvalidInputError(f"{where}: model.json names no flavor; log the model again")
    if len(flavor) > _MAX_FLAVOR:
        raise InvalidInputError(
            f"{where}: model.json's flavor {quote(flavor, 60)} is {len(flavor)} characters "
            f"long; a flavor name holds at most {_MAX_FLAVOR}"
        )
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
        DigestMismatchError: naming every listed file that is missing or has another digest.
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
        raise DigestMismatchError(
            f"{where} does not match its model.json: {'; '.join(problems)}; re-log the model",
            details={"problems": problems},
        )
    return sorted(kept, key=lambda entry: entry.path)
