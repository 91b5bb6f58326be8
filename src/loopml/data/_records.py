"""Dataset rows in the metadata store: find, list and insert versions, and link runs.

Every function takes the caller's connection, so a new version, its files, its audit row
and its lineage edge commit together or not at all. The version number is ``max + 1``
inside the transaction; two processes racing for it (or for the same content, or for the
first version of a dataset) collide on a unique constraint, and the caller retries.

Example:
    >>> with store.read() as conn:  # doctest: +SKIP
    ...     latest = find_version(conn, "iris", None)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from sqlalchemy import Connection, RowMapping, func, select, update

from loopml._ids import new_id
from loopml.artifacts import ManifestEntry
from loopml.clock import now_ms
from loopml.data.models import Dataset, DatasetVersion
from loopml.errors import NotFoundError
from loopml.paging import MAX_PAGE_SIZE, Page, iter_pages
from loopml.store.audit import current_actor, record
from loopml.store.lineage import add_edge, add_edge_once
from loopml.store.paging import SortKey, page_of, paged_query
from loopml.store.schema import artifact_files, dataset_versions, datasets, runs

__all__ = [
    "OWNER",
    "attach",
    "check_run",
    "find_version",
    "get_dataset",
    "insert_version",
    "link_input",
    "link_run",
    "list_datasets",
    "list_versions",
    "manifest",
    "page_datasets",
    "page_versions",
    "version_by_digest",
]

OWNER = "dataset_version"  # owner_kind of a version's rows in artifact_files
Role = Literal["input", "output"]
_EDGE = {"input": "consumed", "output": "produced"}
_LIST_HINT = "list datasets with `loopml data list`"


_V = dataset_versions.c
_VERSION_ORDER: Final[list[SortKey]] = [(_V.version, False)]
_DATASET_ORDER: Final[list[SortKey]] = [(datasets.c.name, False)]


def _version_query() -> Any:
    return select(dataset_versions, datasets.c.name).join(datasets, datasets.c.id == _V.dataset_id)


def _to_version(m: RowMapping | Mapping[str, Any]) -> DatasetVersion:
    return DatasetVersion(
        id=m["id"],
        name=m["name"],
        version=m["version"],
        digest=m["digest"],
        kind=m["kind"],
        format=m["format"],
        row_count=m["row_count"],
        file_count=m["file_count"],
        byte_size=m["byte_size"],
        schema=m["schema"],
        profile=m["profile"],
        source=m["source"],
        run_id=m["run_id"],
        created_at=m["created_at"],
        created_by=m["created_by"],
    )


def find_version(conn: Connection, name: str, version: int | None) -> DatasetVersion:
    """Version ``version`` of dataset ``name`` (the latest when ``None``).

    Raises:
        NotFoundError: no such dataset (with close names), or no such version (with the
            versions there are).
    """
    dataset_id = _existing_id(conn, name)
    query = _version_query().where(_V.dataset_id == dataset_id)
    if version is None:
        row = conn.execute(query.order_by(_V.version.desc()).limit(1)).first()
    else:
        row = conn.execute(query.where(_V.version == version)).first()
    if row is None:
        numbers = conn.execute(
            select(_V.version).where(_V.dataset_id == dataset_id).order_by(_V.version)
        ).scalars()
        listed = ", ".join(str(n) for n in numbers) or "none"
        raise NotFoundError(
            "dataset version",
            f"{name}/{version}" if version is not None else f"{name}@latest",
            hint=f"versions of '{name}': {listed}",
        )
    return _to_version(row._mapping)


def version_by_digest(conn: Connection, name: str, digest: str) -> DatasetVersion | None:
    """The version of ``name`` whose content has this digest, if there is one."""
    row = conn.execute(_version_query().where(datasets.c.name == name, _V.digest == digest)).first()
    return None if row is None else _to_version(row._mapping)


def list_versions(conn: Connection, name: str) -> list[DatasetVersion]:
    """Every version of ``name``, oldest first (NotFoundError for an unknown dataset)."""
    return list(
        iter_pages(lambda token: page_versions(conn, name, limit=MAX_PAGE_SIZE, page_token=token))
    )


def page_versions(
    conn: Connection, name: str, *, limit: int, page_token: str | None
) -> Page[DatasetVersion]:
    """One page of the versions of ``name``, oldest first (NotFoundError when unknown)."""
    _existing_id(conn, name)
    query = _version_query().where(datasets.c.name == name)
    rows = conn.execute(paged_query(query, _VERSION_ORDER, limit, page_token)).all()
    page = page_of(rows, _VERSION_ORDER, limit)
    return Page([_to_version(row._mapping) for row in page.items], page.next_page_token)


def list_datasets(conn: Connection) -> list[Dataset]:
    """Every dataset, by name, with its version count and latest version."""
    return list(
        iter_pages(lambda token: page_datasets(conn, limit=MAX_PAGE_SIZE, page_token=token))
    )


def page_datasets(conn: Connection, *, limit: int, page_token: str | None) -> Page[Dataset]:
    """One page of datasets, by name, with their version count and latest version."""
    query = _datasets_query()
    rows = conn.execute(paged_query(query, _DATASET_ORDER, limit, page_token)).all()
    page = page_of(rows, _DATASET_ORDER, limit)
    return Page([_to_dataset(r) for r in page.items], page.next_page_token)


def get_dataset(conn: Connection, name: str) -> Dataset:
    """The dataset ``name`` with its version count and latest version.

    Raises:
        NotFoundError: no dataset has this name (close names suggested).
    """
    row = conn.execute(_datasets_query().where(datasets.c.name == name)).first()
    if row is None:
        _existing_id(conn, name)  # raises, naming the close matches
    assert row is not None
    return _to_dataset(row)


def _datasets_query() -> Any:
    summary = (
        select(
            _V.dataset_id,
            func.count().label("version_count"),
            func.max(_V.version).label("latest"),
            func.max(_V.created_at).label("updated"),
        )
        .group_by(_V.dataset_id)
        .subquery()
    )
    query = select(datasets, summary.c.version_count, summary.c.latest, summary.c.updated)
    return query.outerjoin(summary, summary.c.dataset_id == datasets.c.id)


def _to_dataset(r: Any) -> Dataset:
    return Dataset(
        r.id, r.name, r.description, r.created_at, r.version_count or 0, r.latest, r.updated
    )


def manifest(conn: Connection, version_id: str) -> list[ManifestEntry]:
    """The files of a version, sorted by path."""
    c = artifact_files.c
    rows = conn.execute(
        select(c.path, c.digest, c.size)
        .where(c.owner_kind == OWNER, c.owner_id == version_id)
        .order_by(c.path)
    )
    return [ManifestEntry(r.path, r.digest, r.size) for r in rows]


def check_run(conn: Connection, run_id: str) -> None:
    """Raise NotFoundError unless ``run_id`` names a run that is not deleted."""
    found = conn.execute(
        select(runs.c.id).where(runs.c.id == run_id, runs.c.deleted_at.is_(None))
    ).first()
    if found is None:
        raise NotFoundError(
            "run", run_id, hint="pass the id of an existing run (see `loopml runs list`)"
        )


def link_run(conn: Connection, run_id: str, role: Role, version: DatasetVersion) -> None:
    """Record ``run --consumed/produced--> dataset_version`` once."""
    dst = ("dataset_version", _node(version))
    add_edge_once(conn, ("run", run_id), _EDGE[role], dst, {"uri": version.uri})


def attach(
    conn: Connection,
    version: DatasetVersion,
    description: str | None,
    run_id: str | None,
    role: Role,
) -> None:
    """Describe the dataset and link a run to an existing version (same content logged)."""
    _dataset_id(conn, version.name, description, now_ms())
    if run_id is not None:
        link_run(conn, run_id, role, version)


def insert_version(
    conn: Connection,
    name: str,
    fields: dict[str, Any],
    files: Sequence[ManifestEntry],
    *,
    description: str | None,
    run_id: str | None,
    role: Role,
) -> DatasetVersion:
    """Insert the next version of ``name`` (creating the dataset) unless its digest exists.

    Raises:
        sqlalchemy.exc.IntegrityError: another transaction took the version number, the
            digest or the dataset name first; retry the whole transaction.
    """
    now = now_ms()
    dataset_id = _dataset_id(conn, name, description, now)
    existing = version_by_digest(conn, name, fields["digest"])
    if existing is not None:
        if run_id is not None:
            link_run(conn, run_id, role, existing)
        return existing
    latest = conn.execute(select(func.max(_V.version)).where(_V.dataset_id == dataset_id)).scalar()
    row = {
        **fields,
        "id": new_id(),
        "dataset_id": dataset_id,
        "version": (latest or 0) + 1,
        "run_id": run_id,
        "created_at": now,
        "created_by": current_actor(),
    }
    conn.execute(dataset_versions.insert().values(**row))
    _insert_files(conn, row["id"], files, now)
    version = _to_version({**row, "name": name})
    record(
        conn,
        action="dataset.log",
        object_kind="dataset_version",
        object_id=_node(version),
        details={"digest": version.digest, "kind": version.kind, "format": version.format},
    )
    if run_id is not None:
        link_run(conn, run_id, role, version)
    return version


def _dataset_id(conn: Connection, name: str, description: str | None, now: int) -> str:
    found = conn.execute(
        select(datasets.c.id, datasets.c.description).where(datasets.c.name == name)
    ).first()
    if found is None:
        dataset_id = new_id()
        conn.execute(
            datasets.insert().values(
                id=dataset_id, name=name, description=description, created_at=now
            )
        )
        return dataset_id
    if description is not None and description != found.description:
        conn.execute(
            update(datasets).where(datasets.c.id == found.id).values(description=description)
        )
    return str(found.id)


def _insert_files(
    conn: Connection, version_id: str, files: Sequence[ManifestEntry], now: int
) -> None:
    rows = [
        {
            "owner_kind": OWNER,
            "owner_id": version_id,
            "path": f.path,
            "digest": f.digest,
            "size": f.size,
            "created_at": now,
        }
        for f in files
    ]
    for start in range(0, len(rows), 1000):
        conn.execute(artifact_files.insert(), rows[start : start + 1000])


def _existing_id(conn: Connection, name: str) -> str:
    dataset_id = conn.execute(select(datasets.c.id).where(datasets.c.name == name)).scalar()
    if dataset_id is None:
        names = conn.execute(select(datasets.c.name)).scalars().all()
        raise NotFoundError("dataset", name, choices=names, hint=_LIST_HINT)
    return str(dataset_id)


def _node(version: DatasetVersion) -> str:
    return f"{version.name}/{version.version}"


def link_input(conn: Connection, run_id: str, version: DatasetVersion, context: str) -> bool:
    """Record ``run --consumed--> dataset_version`` with ``context``; return whether it is new.

    One edge per (run, version, context): logging it again changes nothing; an edge the
    run already had without a context (from ``load_dataset``) gets this one.
    """
    from loopml.store.schema import lineage_edges

    e = lineage_edges.c
    rows = conn.execute(
        select(e.id, e.attributes).where(
            e.src_kind == "run",
            e.src_id == run_id,
            e.edge == "consumed",
            e.dst_kind == "dataset_version",
            e.dst_id == _node(version),
        )
    ).all()
    contexts = {(row.attributes or {}).get("context") for row in rows}
    if context in contexts:
        return False
    attributes = {"uri": version.uri, "context": context}
    bare = next((row for row in rows if not (row.attributes or {}).get("context")), None)
    if bare is not None:
        conn.execute(
            update(lineage_edges)
            .where(e.id == bare.id)
            .values(attributes={**(bare.attributes or {}), **attributes})
        )
    else:
        add_edge(conn, ("run", run_id), "consumed", ("dataset_version", _node(version)), attributes)
    return True
