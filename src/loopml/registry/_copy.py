"""Copying a model version from one environment's registry to the next (dev -> staging -> prod).

A copy is a gated registry operation between two stores. The source version must have
passed its gates in its own environment (:func:`~loopml.registry.governance.copy_blockers`
lists every reason it has not). Its package files move into the target's artifact store
(each one read verified, stored again, and checked against its digest), and it becomes the
next version of the same model in the target registry (the model is created there when
missing), carrying:

- the package, byte for byte (the same ``package_digest``);
- the source's latest gated evaluation, stored again in the target with a note saying where
  it came from, so the target's gates and promotion see it (a passed one moves the copy
  from ``registered`` to ``validated``, as any evaluation does);
- a lineage summary: the source version, its evaluation, and its upstream lineage (runs,
  dataset versions, features…) walked in the source store, kept as the copy's file
  ``lineage.json`` (:func:`read_lineage`);
- its description and tags, and the tag ``copied_from`` = ``dev:models:/churn/2``.

Both sides keep an event and an audit row: ``model_version.copied_in`` in the target,
``model_version.copied_out`` in the source. Copying the same version again returns the
copy there is (found by its ``copied_from`` tag, its package digest and its lineage file).

Two stores share no transaction: the target's change (version, evaluation, lineage file,
event) is one transaction, and the source's row is written after it. A crash between the
two is repaired by copying again, which writes the source's row when it is missing.

Example:
    >>> copied = copy_version(dev, staging, "churn", 2, reason="passed in dev")  # doctest: +SKIP
    >>> copied.version.uri, copied.copied_from  # doctest: +SKIP
    ('models:/churn/1', 'dev:models:/churn/2')
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from loopml.artifacts import ArtifactStore, ManifestEntry, StoredFile
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import (
    ConflictError,
    DigestMismatchError,
    GateFailedError,
    InvalidInputError,
    NotFoundError,
)
from loopml.packaging.stored import package_files, parse_manifest
from loopml.registry import _evaluations, _records, _versions, events, governance
from loopml.registry._files import MANIFEST, files_of, version_location
from loopml.registry._sources import PackageSource
from loopml.registry.models import CopiedVersion, ModelVersion
from loopml.store.audit import history
from loopml.store.lineage import walk
from loopml.store.schema import artifact_files, model_versions
from loopml.uris import env_uri, is_uri, model_uri, node_uri

if TYPE_CHECKING:
    from loopml.registry.client import RegistryClient

__all__ = ["COPIED_FROM", "LINEAGE_FILE", "OWNER", "copy_version", "read_lineage"]

COPIED_FROM = "copied_from"  # the version tag naming the source: dev:models:/churn/2
OWNER = "model_copy"  # artifact_files.owner_kind of a copy's lineage summary (owner: version id)
LINEAGE_FILE = "lineage.json"
LINEAGE_DEPTH = 10  # edges followed upstream from the source version
_V = model_versions.c
_F = artifact_files.c


@dataclass(frozen=True, slots=True)
class _Source:
    """What a copy reads from the source registry, in one read transaction."""

    row: dict[str, Any]
    package: PackageSource
    evaluation: dict[str, Any]
    figure_sizes: dict[str, int]  # the evaluation's figure digests -> sizes


def copy_version(
    source: RegistryClient,
    target: RegistryClient,
    name: str,
    version: int,
    *,
    reason: str | None,
    actor: str,
) -> CopiedVersion:
    """Copy ``name/version`` from ``source``'s registry into ``target``'s (see the module).

    Raises:
        InvalidInputError: an environment is not named, or both are the same store.
        NotFoundError: no such model or version in the source.
        GateFailedError: the version did not pass its gates in the source; every reason
            is in the message and in ``details["reasons"]``.
        ConflictError: a target version claims to be this copy (its ``copied_from``
            tag) but holds another package or was not made by a copy.
        DigestMismatchError: a package file is corrupt in the source's artifact store.
    """
    from_env, to_env = _endpoints(source.settings, target.settings)
    from_uri = env_uri(from_env, model_uri(name, version))
    found = _read_source(source, name, version)
    with target.store.read() as conn:
        copy = _existing_copy(conn, name, from_uri, found.package.digest)
    if copy is None:
        _transfer(source.artifact_store, target.artifact_store, _blobs(found))
        summary = _summary(source, found, from_env, to_env, from_uri, actor)
        stored = target.artifact_store.put_bytes(summary)
        digest, size = stored.digest, len(summary)

        def copy_in(conn: Connection) -> _Copy:
            return _copy_in(
                conn, found, from_env, from_uri, digest, size, reason=reason, actor=actor
            )

        copy = target._write(copy_in)
    to_uri = env_uri(to_env, copy.version.uri)
    source._write(lambda conn: _copy_out(conn, name, version, to_env, to_uri, found, reason, actor))
    return CopiedVersion(
        version=copy.version,
        copied_from=from_uri,
        env=to_env,
        evaluation_id=copy.evaluation_id,
        lineage_digest=copy.lineage_digest,
        created=copy.created,
    )


def read_lineage(conn: Connection, artifacts: ArtifactStore, name: str, version: int) -> Any:
    """The lineage summary a copy carries (the JSON document of its ``lineage.json``).

    Raises:
        NotFoundError: the version was not made by a copy from another environment.
    """
    row = _records.find_version(conn, name, version)
    digest = _lineage_digest(conn, row["id"])
    if digest is None:
        raise NotFoundError(
            "lineage summary",
            model_uri(name, version),
            hint="only a version copied from another environment carries one "
            "(RegistryClient.copy_version, `loopml models copy`); see its own lineage with "
            "`loopml lineage`",
        )
    return json.loads(artifacts.get_bytes(digest))


# -- the source ------------------------------------------------------------------------


def _endpoints(source: Settings, target: Settings) -> tuple[str, str]:
    from_env, to_env = source.env, target.env
    if from_env is None or to_env is None:
        missing = [side for side, env in (("source", from_env), ("target", to_env)) if not env]
        raise InvalidInputError(
            f"a copy goes between named environments, but the {' and '.join(missing)} "
            "settings name none; load them with Settings.load(env='dev') (the [env.NAME] "
            "tables of loopml.toml), or use `loopml models copy NAME VERSION --from dev "
            "--to staging`"
        )
    if from_env == to_env or source.db_url == target.db_url:
        raise InvalidInputError(
            f"environments '{from_env}' and '{to_env}' use the same registry "
            f"({target.db_url}); a copy needs two stores: give each [env.NAME] of loopml.toml "
            "its own db_url (and check that LOOPML_DB_URL or --db-url does not override them)"
        )
    return from_env, to_env


def _read_source(source: RegistryClient, name: str, version: int) -> _Source:
    with source.store.read() as conn:
        policy = governance.policy_of(_records.find_model(conn, name))
        row = dict(_records.find_version(conn, name, version))
        blockers = governance.copy_blockers(conn, policy, row)
        if blockers:
            raise GateFailedError(
                f"cannot copy {model_uri(name, version)} out of environment "
                f"'{source.settings.env}': " + "; ".join(blockers),
                details={"reasons": blockers, "model": name, "version": version},
            )
        gated = governance.latest_gated_evaluation(conn, name, version)
        assert gated is not None  # copy_blockers refuses a version without one
        evaluation = _evaluations.get(conn, gated["id"])
        entries = files_of(conn, version_location(name, version, row["id"]))
        sizes = _figure_sizes(conn, evaluation["id"])
    manifest_entry = next((e for e in entries if e.path == MANIFEST), None)
    uri = model_uri(name, version)
    if manifest_entry is None or manifest_entry.digest != row["package_digest"]:
        raise DigestMismatchError(
            f"{uri} has no model.json matching its package digest {row['package_digest']}; "
            "its stored files are damaged: register the package again"
        )
    manifest = parse_manifest(source.artifact_store.get_bytes(manifest_entry.digest), uri)
    files = package_files(manifest, entries, uri)
    package = PackageSource(uri, None, tuple(files), row["flavor"], row["package_digest"])
    return _Source(row, package, evaluation, sizes)


def _figure_sizes(conn: Connection, evaluation_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(_F.digest, _F.size).where(
            _F.owner_kind == _evaluations.OWNER, _F.owner_id == evaluation_id
        )
    )
    return {row.digest: int(row.size) for row in rows}


def _blobs(found: _Source) -> list[ManifestEntry]:
    figures = [ManifestEntry(f"figure-{d}", d, size) for d, size in found.figure_sizes.items()]
    return [*found.package.entries, *figures]


def _transfer(
    source: ArtifactStore, target: ArtifactStore, entries: Sequence[ManifestEntry]
) -> None:
    """Store each blob in ``target``: read verified from ``source``, checked once stored."""
    with tempfile.TemporaryDirectory(prefix="loopml-copy-") as folder:
        for entry in entries:
            if target.exists(entry.digest):
                continue
            local = Path(folder) / entry.digest
            source.get_file(entry.digest, local)  # raises DigestMismatchError if corrupt
            stored = target.put_file(local)
            local.unlink()
            if stored.digest != entry.digest or stored.size != entry.size:
                raise DigestMismatchError(
                    f"{entry.path} arrived in {target.url} as sha256 {stored.digest} "
                    f"({stored.size} bytes), not {entry.digest} ({entry.size} bytes); "
                    "copy again, and check both artifact stores"
                )


def _summary(
    source: RegistryClient,
    found: _Source,
    from_env: str,
    to_env: str,
    from_uri: str,
    actor: str,
) -> bytes:
    row, evaluation = found.row, found.evaluation
    root = ("model_version", f"{row['model']}/{row['version']}")
    upstream = [entry.to_dict() for entry in walk(source.store, root, up=True, depth=LINEAGE_DEPTH)]
    document = {
        "format": 1,
        "copied_at": now_ms(),
        "copied_by": actor,
        "from_env": from_env,
        "to_env": to_env,
        "source": {
            "uri": from_uri,
            "id": row["id"],
            "status": row["status"],
            "source": row["source"],
            "run": _qualified(from_env, row["run_id"] and node_uri("run", row["run_id"])),
            "package_digest": row["package_digest"],
            "flavor": row["flavor"],
            "description": row["description"],
            "tags": dict(row["tags"] or {}),
            "created_at": row["created_at"],
            "created_by": row["created_by"],
        },
        "evaluation": {
            "id": evaluation["id"],
            "data": _qualified(from_env, evaluation["data"]),
            "target": evaluation["target"],
            "task": evaluation["task"],
            "metrics": evaluation["metrics"],
            "gates": evaluation["gates"],
            "passed": evaluation["passed"],
            "created_at": evaluation["created_at"],
        },
        "upstream": [_with_uris(entry, from_env) for entry in upstream],
    }
    return json.dumps(document, sort_keys=True, indent=1).encode("utf-8")


def _with_uris(entry: Mapping[str, Any], env: str) -> dict[str, Any]:
    """A lineage walk entry with the environment-qualified URI of each node that has one."""
    found = dict(entry)
    uri = node_uri(entry["kind"], entry["id"])
    if uri is not None:
        found["uri"] = env_uri(env, uri)
    found["children"] = [_with_uris(child, env) for child in entry.get("children", [])]
    return found


def _qualified(env: str, text: str | None) -> str | None:
    """A loopml URI of the source's store, qualified by its environment (else as given)."""
    return env_uri(env, text) if text and is_uri(text) else text


# -- the target ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Copy:
    version: ModelVersion
    evaluation_id: str | None
    lineage_digest: str
    created: bool  # False: it existed (found before the copy, or made by a concurrent one)


def _existing_copy(conn: Connection, name: str, from_uri: str, digest: str) -> _Copy | None:
    """The version of ``name`` that is the copy of ``from_uri``, if there is one.

    Raises:
        ConflictError: a version carries the ``copied_from`` tag of ``from_uri`` but is not
            its copy (another package, or no lineage file: the tag was set by hand).
    """
    rows = conn.execute(select(model_versions).where(_V.model == name).order_by(_V.version))
    for row in rows.mappings():
        if (row["tags"] or {}).get(COPIED_FROM) != from_uri:
            continue
        lineage = _lineage_digest(conn, row["id"])
        if row["package_digest"] != digest or lineage is None:
            uri = model_uri(name, int(row["version"]))
            why = (
                f"holds another package (sha256 {row['package_digest']}, not {digest})"
                if row["package_digest"] != digest
                else "was not made by copying it (it has no lineage summary)"
            )
            raise ConflictError(
                f"{uri} is tagged {COPIED_FROM}={from_uri} but {why}; remove that tag "
                f"(update_version('{name}', {row['version']}, tags={{'{COPIED_FROM}': None}})) "
                "and copy again",
                details={"version": int(row["version"]), COPIED_FROM: from_uri},
            )
        gated = governance.latest_gated_evaluation(conn, name, int(row["version"]))
        version = _records.to_version(
            row, _records.aliases_of_version(conn, name, int(row["version"]))
        )
        return _Copy(version, gated["id"] if gated else None, lineage, created=False)
    return None


def _lineage_digest(conn: Connection, version_id: str) -> str | None:
    query = select(_F.digest).where(
        _F.owner_kind == OWNER, _F.owner_id == version_id, _F.path == LINEAGE_FILE
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else str(found)


def _copy_in(
    conn: Connection,
    found: _Source,
    from_env: str,
    from_uri: str,
    lineage_digest: str,
    lineage_size: int,
    *,
    reason: str | None,
    actor: str,
) -> _Copy:
    row = found.row
    name = row["model"]
    _records.try_lock_model(conn, name)  # then no other copy of it can commit meanwhile
    again = _existing_copy(conn, name, from_uri, found.package.digest)
    if again is not None:
        return again
    tags = {**(row["tags"] or {}), COPIED_FROM: from_uri}
    package = PackageSource(
        from_uri, None, found.package.entries, found.package.flavor, found.package.digest
    )
    made = _versions.insert_version(
        conn, name, package, description=row["description"], tags=tags, actor=actor
    )
    now = now_ms()
    conn.execute(
        artifact_files.insert(),
        {"owner_kind": OWNER, "owner_id": made.id, "path": LINEAGE_FILE,
         "digest": lineage_digest, "size": lineage_size, "created_at": now},
    )  # fmt: skip
    saved = _evaluations.save(
        conn,
        _evaluation_record(found.evaluation, made, from_env, from_uri),
        move_status=True,
        dataset_node=None,
        actor=actor,
        figures=_figures(found),
    )
    payload = {
        "from": from_uri,
        "from_env": from_env,
        "package_digest": made.package_digest,
        "evaluation": saved.id,
        "source_evaluation": found.evaluation["id"],
        "lineage_digest": lineage_digest,
    }
    events.record(conn, "model_version.copied_in", name, made.version, payload,
                  actor=actor, reason=reason)  # fmt: skip
    version = _records.find_version(conn, name, made.version)
    copied = _records.to_version(version, _records.aliases_of_version(conn, name, made.version))
    return _Copy(copied, saved.id, lineage_digest, created=True)


def _evaluation_record(
    evaluation: Mapping[str, Any], made: ModelVersion, from_env: str, from_uri: str
) -> dict[str, Any]:
    notes = [*evaluation.get("notes", []), f"copied from {from_uri} (evaluation "
             f"{evaluation['id']} in environment '{from_env}')"]  # fmt: skip
    return {
        "model_uri": made.uri,
        "model": made.model,
        "version": made.version,
        "data": _qualified(from_env, evaluation["data"]),
        "target": evaluation["target"],
        "task": evaluation["task"],
        "metrics": evaluation["metrics"],
        "slices": evaluation["slices"],
        "champion": evaluation["champion"],
        "gates": evaluation["gates"],
        "passed": evaluation["passed"],
        "notes": notes,
    }


def _figures(found: _Source) -> dict[str, StoredFile]:
    return {
        name: StoredFile(digest=digest, size=found.figure_sizes[digest])
        for name, digest in (found.evaluation.get("figures") or {}).items()
        if digest in found.figure_sizes
    }


# -- back in the source ----------------------------------------------------------------


def _copy_out(
    conn: Connection,
    name: str,
    version: int,
    to_env: str,
    to_uri: str,
    found: _Source,
    reason: str | None,
    actor: str,
) -> None:
    """The source's event and audit row of the copy, unless a row says so already."""
    done = any(
        entry["action"] == "model_version.copied_out"
        and (entry["details"] or {}).get("to") == to_uri
        for entry in history(conn, "model_version", f"{name}/{version}")
    )
    if done:
        return
    payload = {"to": to_uri, "to_env": to_env, "package_digest": found.package.digest}
    events.record(conn, "model_version.copied_out", name, version, payload,
                  actor=actor, reason=reason)  # fmt: skip
