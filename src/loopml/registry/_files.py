"""Where a model package's files are: the ``artifact_files`` rows of a run or a version.

A package is a set of ``artifact_files`` rows: under a run (``runs:/<id>/<path>``, owner
``run``) until it is registered, then copied to the version (owner ``model_version``,
owner id = the version's id) so deleting the run never breaks a registered model.
Fetching them into the local cache is :func:`loopml.packaging.stored.fetch`.

Example:
    >>> location = locate(conn, parse_uri("models:/churn@production"))  # doctest: +SKIP
    >>> entries = files_of(conn, location)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, and_, bindparam, select

from loopml.artifacts import ManifestEntry, safe_artifact_path
from loopml.errors import InvalidInputError, NotFoundError
from loopml.packaging.package import MANIFEST
from loopml.registry import _records
from loopml.store.files import under_folder
from loopml.store.schema import (
    artifact_files,
    model_aliases,
    runs,
)
from loopml.uris import LoopmlURI, model_uri, run_uri

__all__ = [
    "MANIFEST",
    "PackageLocation",
    "copy_files",
    "files_of",
    "locate",
    "resolve_version",
    "version_location",
]

VERSION_OWNER = "model_version"
RUN_OWNER = "run"

# Prebuilt statements: registering and loading read these on every call.
_F = artifact_files.c
_RUN_STATE = select(runs.c.deleted_at).where(runs.c.id == bindparam("run"))
_OWNED = and_(_F.owner_kind == bindparam("kind"), _F.owner_id == bindparam("owner"))
_HAS_FILE = select(_F.path).where(_OWNED, _F.path == bindparam("path"))
_FILES = select(_F.path, _F.digest, _F.size).where(_OWNED).order_by(_F.path)


@dataclass(frozen=True, slots=True)
class PackageLocation:
    """The rows that hold one package: ``owner`` plus the folder ``prefix`` inside it."""

    uri: str
    owner_kind: str
    owner_id: str
    prefix: str
    model: str | None = None
    version: int | None = None
    run_id: str | None = None


def resolve_version(conn: Connection, uri: LoopmlURI) -> RowMapping:
    """The ``model_versions`` row that ``models:/name/N`` or ``models:/name@alias`` names.

    Raises:
        NotFoundError: the model, version or alias does not exist; the message lists
            what does.
    """
    name = uri.name
    if uri.alias is None:
        assert uri.version is not None  # parse_uri gives models:/ URIs a version or an alias
        return _records.find_version(conn, name, uri.version)
    c = model_aliases.c
    version = conn.execute(
        select(c.version).where(c.model == name, c.alias == uri.alias)
    ).scalar_one_or_none()
    if version is None:
        _records.find_model(conn, name)  # an unknown model says so first
        aliases = conn.execute(select(c.alias).where(c.model == name)).scalars().all()
        raise NotFoundError(
            "alias",
            f"{name}@{uri.alias}",
            choices=[f"{name}@{a}" for a in aliases],
            hint=f"aliases of '{name}': {', '.join(sorted(aliases)) or 'none yet'}",
        )
    return _records.find_version(conn, name, int(version))


def version_location(model: str, version: int, version_id: str) -> PackageLocation:
    """Where a registered version's package is, from the version itself (no lookup)."""
    return PackageLocation(model_uri(model, version), VERSION_OWNER, version_id, "", model, version)


def locate(conn: Connection, uri: LoopmlURI) -> PackageLocation:
    """Where the package that ``uri`` names is stored.

    Raises:
        NotFoundError: no such run, model, version, alias or package path.
        InvalidInputError: ``uri`` is a ``datasets:/`` URI.
    """
    if uri.scheme == "models":
        row = resolve_version(conn, uri)
        return version_location(row["model"], int(row["version"]), row["id"])
    if uri.scheme != "runs":
        raise InvalidInputError(
            f"'{uri}' is not a model; give runs:/<run_id>/<path> or models:/<name>/<version>"
        )
    run = conn.execute(_RUN_STATE, {"run": uri.name}).first()
    if run is None:
        raise NotFoundError("run", uri.name, hint="list runs with `loopml runs list`")
    if run.deleted_at is not None:
        raise NotFoundError(
            "run", uri.name, hint="it was deleted; log the model in another run and use that"
        )
    prefix = safe_artifact_path(uri.path)
    if not _has_manifest(conn, RUN_OWNER, uri.name, prefix):
        packages = _manifest_folders(conn, uri.name)
        raise NotFoundError(
            "model package",
            str(uri),
            choices=[run_uri(uri.name, p) for p in packages],
            hint=(
                f"packages in run {uri.name}: {', '.join(packages)}"
                if packages
                else f"run {uri.name} logged no model; log one with loopml.log_model"
            ),
        )
    return PackageLocation(str(uri), RUN_OWNER, uri.name, prefix, run_id=uri.name)


def files_of(conn: Connection, location: PackageLocation) -> list[ManifestEntry]:
    """The package's files, with paths relative to the package folder, sorted."""
    params = {"kind": location.owner_kind, "owner": location.owner_id}
    prefix = location.prefix
    statement = _FILES.where(under_folder(_F.path, prefix)) if prefix else _FILES
    cut = len(prefix) + 1 if prefix else 0
    return [
        ManifestEntry(row.path[cut:], row.digest, row.size)
        for row in conn.execute(statement, params)
    ]


def copy_files(
    conn: Connection, entries: Sequence[ManifestEntry], owner_id: str, created_at: int
) -> None:
    """Record ``entries`` (blobs already stored) as the files of model version ``owner_id``."""
    if not entries:
        return
    conn.execute(
        artifact_files.insert(),
        [
            {
                "owner_kind": VERSION_OWNER,
                "owner_id": owner_id,
                "path": entry.path,
                "digest": entry.digest,
                "size": entry.size,
                "created_at": created_at,
            }
            for entry in entries
        ],
    )


def _has_manifest(conn: Connection, owner_kind: str, owner_id: str, prefix: str) -> bool:
    path = f"{prefix}/{MANIFEST}" if prefix else MANIFEST
    found = conn.execute(_HAS_FILE, {"kind": owner_kind, "owner": owner_id, "path": path})
    return found.first() is not None


def _manifest_folders(conn: Connection, run_id: str) -> list[str]:
    c = artifact_files.c
    rows = conn.execute(
        select(c.path).where(
            c.owner_kind == RUN_OWNER, c.owner_id == run_id, c.path.like(f"%{MANIFEST}")
        )
    )
    return sorted(
        path.rpartition("/")[0] or "." for path in rows.scalars() if path.endswith(MANIFEST)
    )
