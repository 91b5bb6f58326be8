"""The registry of feature definitions: versioned specs in the metadata store.

``apply`` compares each definition's digest with its latest version, writes a new
version only when the spec changed, appends an audit row per new version and returns
the diff; all of it in one transaction, so an apply lands whole or not at all.

Example:
    >>> registry = Registry(open_store("sqlite:///:memory:"))  # doctest: +SKIP
    >>> registry.apply([driver, driver_stats]).of("driver_stats").action  # doctest: +SKIP
    'created'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from loopml.clock import now_ms
from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.features._spec import diff_specs, spec_digest
from loopml.features.definitions import Entity, FeatureView
from loopml.features.models import KINDS, ApplyResult, DefinitionChange, Kind, RegisteredDefinition
from loopml.features.on_demand import OnDemandFeatureView
from loopml.store import Store
from loopml.store.audit import current_actor, record
from loopml.store.schema import feature_definitions as table

__all__ = ["Definition", "Definitions", "Registry"]

Definition: TypeAlias = Entity | FeatureView | OnDemandFeatureView


@dataclass(frozen=True)
class Definitions:
    """The latest version of every definition, as objects: what the store works from."""

    entities: dict[str, Entity] = field(default_factory=dict)
    views: dict[str, FeatureView] = field(default_factory=dict)
    on_demand: dict[str, OnDemandFeatureView] = field(default_factory=dict)
    versions: dict[tuple[str, str], int] = field(default_factory=dict)

    def version_of(self, kind: str, name: str) -> int:
        """The current version of one definition."""
        return self.versions[(kind, name)]

    @property
    def all_view_names(self) -> list[str]:
        """Names of feature views and on-demand views together (one namespace)."""
        return sorted({*self.views, *self.on_demand})


class Registry:
    """Versioned feature definitions in one metadata store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def apply(self, definitions: Iterable[Definition], *, reason: str | None = None) -> ApplyResult:
        """Register ``definitions``; a new version for each one whose spec changed.

        Entities a view uses and views an on-demand view reads are registered with it
        when the registry does not know them yet.

        Raises:
            InvalidInputError: a definition is not one, or names collide in the batch.
            ConflictError: a view's entity disagrees with the registered entity, or a
                concurrent apply registered the same version first.
        """
        given = _check_batch(list(definitions))
        actor = current_actor()

        def work(conn: Connection) -> ApplyResult:
            latest: dict[tuple[str, str], RegisteredDefinition] = {
                (r.kind, r.name): r for r in self._latest(conn)
            }
            batch = _with_dependencies(given, latest)
            _check_consistency(batch, latest)
            return ApplyResult(tuple(_apply_one(conn, d, latest, actor, reason) for d in batch))

        try:
            return self.store.transact(work)
        except SqlIntegrityError as err:
            raise ConflictError(
                "another apply registered the same definitions at the same time; run it again"
            ) from err

    def latest(self, kind: Kind | None = None) -> list[RegisteredDefinition]:
        """The latest version of every definition (of one ``kind``), by kind then name."""
        with self.store.read() as conn:
            found = self._latest(conn)
        return [d for d in found if kind is None or d.kind == kind]

    def get(
        self, name: str, kind: Kind | None = None, version: int | None = None
    ) -> RegisteredDefinition:
        """One definition by name: its latest version, or ``version``.

        Raises:
            NotFoundError: no such definition (with close matches) or version.
        """
        history = [d for d in self.versions(name) if kind is None or d.kind == kind]
        if not history:
            names = [d.name for d in self.latest(kind)]
            raise NotFoundError(
                _label(kind or "definition"),
                name,
                choices=names,
                hint="list them with `loopml features list`",
            )
        if version is None:
            return history[-1]
        for found in history:
            if found.version == version:
                return found
        raise NotFoundError(
            _label(history[-1].kind),
            f"{name}@v{version}",
            hint=f"versions: {', '.join(str(d.version) for d in history)}",
        )

    def versions(self, name: str) -> list[RegisteredDefinition]:
        """Every version of the definitions called ``name``, oldest first."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(table).where(table.c.name == name).order_by(table.c.kind, table.c.version)
            )
            return [_registered(row._mapping) for row in rows]

    def load(self) -> Definitions:
        """The latest definitions as objects."""
        found = self.latest()
        result = Definitions(versions={(d.kind, d.name): d.version for d in found})
        for d in found:
            if d.kind == "entity":
                result.entities[d.name] = Entity.from_spec(d.spec)
            elif d.kind == "feature_view":
                result.views[d.name] = FeatureView.from_spec(d.spec)
        for d in found:
            if d.kind == "on_demand_feature_view":
                result.on_demand[d.name] = OnDemandFeatureView.from_spec(d.spec, result.views)
        return result

    def _latest(self, conn: Connection) -> list[RegisteredDefinition]:
        newest = (
            select(table.c.kind, table.c.name, func.max(table.c.version).label("version"))
            .group_by(table.c.kind, table.c.name)
            .subquery()
        )
        rows = conn.execute(
            select(table)
            .join(
                newest,
                and_(
                    table.c.kind == newest.c.kind,
                    table.c.name == newest.c.name,
                    table.c.version == newest.c.version,
                ),
            )
            .order_by(table.c.kind, table.c.name)
        )
        found = [_registered(row._mapping) for row in rows]
        return sorted(found, key=lambda d: (KINDS.index(d.kind), d.name))


def _apply_one(
    conn: Connection,
    definition: Definition,
    latest: dict[tuple[str, str], RegisteredDefinition],
    actor: str,
    reason: str | None,
) -> DefinitionChange:
    kind = cast(Kind, definition.kind)
    spec = definition.spec()
    digest = spec_digest(spec)
    previous = latest.get((kind, definition.name))
    # The stored spec's identity, not its stored digest: older rows hashed the whole spec.
    if previous is not None and spec_digest(previous.spec) == digest:
        return DefinitionChange(
            kind, definition.name, "unchanged", previous.version, previous.version
        )
    version = 1 if previous is None else previous.version + 1
    changes = tuple(diff_specs(previous.spec, spec)) if previous else ()
    conn.execute(
        table.insert().values(
            kind=kind,
            name=definition.name,
            version=version,
            digest=digest,
            spec=spec,
            created_at=now_ms(),
            created_by=actor,
        )
    )
    action: Literal["created", "updated"] = "created" if previous is None else "updated"
    record(
        conn,
        action=f"{kind}.{'create' if previous is None else 'update'}",
        object_kind=kind,
        object_id=definition.name,
        reason=reason,
        actor=actor,
        details={"version": version, "digest": digest, "changes": [c.to_dict() for c in changes]},
    )
    return DefinitionChange(
        kind, definition.name, action, version, previous.version if previous else None, changes
    )


def _check_batch(definitions: list[Any]) -> list[Definition]:
    """The batch without repeats; refuses non-definitions and clashing names."""
    unique: dict[tuple[str, str], Definition] = {}
    view_kinds: dict[str, str] = {}
    for d in definitions:
        if not isinstance(d, Entity | FeatureView | OnDemandFeatureView):
            raise InvalidInputError(
                f"cannot apply {d!r}; apply Entity, FeatureView and OnDemandFeatureView objects"
            )
        key = (d.kind, d.name)
        if key in unique and spec_digest(unique[key].spec()) != spec_digest(d.spec()):
            raise InvalidInputError(f"two different {d.kind}s are named '{d.name}'; rename one")
        if d.kind != "entity" and view_kinds.setdefault(d.name, d.kind) != d.kind:
            raise InvalidInputError(
                f"'{d.name}' names both a feature view and an on-demand feature view; "
                "views share one namespace"
            )
        unique.setdefault(key, d)
    return list(unique.values())


def _with_dependencies(
    batch: Sequence[Definition], latest: dict[tuple[str, str], RegisteredDefinition]
) -> list[Definition]:
    """The batch plus the entities and views it uses that are not registered yet."""
    explicit = {(d.kind, d.name): d for d in batch}
    ordered: dict[tuple[str, str], Definition] = {}

    def add(d: Definition, implicit: bool = True) -> None:
        key = (d.kind, d.name)
        if implicit and key not in explicit and key in latest:
            return  # registered already: the registry's version stands
        ordered.setdefault(key, explicit.get(key, d))

    for d in batch:
        if isinstance(d, FeatureView):
            for entity in d.entities:
                add(entity)
        elif isinstance(d, OnDemandFeatureView):
            for view in d.source_views:
                for entity in view.entities:
                    add(entity)
                add(view)
        add(d, implicit=False)
    return list(ordered.values())


def _check_consistency(
    batch: Sequence[Definition], latest: dict[tuple[str, str], RegisteredDefinition]
) -> None:
    """Refuse name clashes between view kinds, and views whose entities disagree."""
    other_kind = {
        "feature_view": "on_demand_feature_view",
        "on_demand_feature_view": "feature_view",
    }
    for d in batch:
        clash = other_kind.get(d.kind)
        if clash and (clash, d.name) in latest:
            raise ConflictError(
                f"the name '{d.name}' is taken by a registered {_label(clash)}; "
                "feature views and on-demand views share one namespace, so rename one"
            )
    keys = {n: r.spec["join_keys"] for (k, n), r in latest.items() if k == "entity"}
    keys.update({d.name: list(d.join_keys) for d in batch if isinstance(d, Entity)})
    views = {n: r.spec for (k, n), r in latest.items() if k == "feature_view"}
    views.update({d.name: d.spec() for d in batch if isinstance(d, FeatureView)})
    for view in views.values():
        for entity in view["entities"]:
            if entity["join_keys"] != keys[entity["name"]]:
                raise ConflictError(
                    f"feature view '{view['name']}' uses entity '{entity['name']}' with join "
                    f"keys {entity['join_keys']}, but the entity has {keys[entity['name']]}; "
                    "apply the entity and every view using it together"
                )


def _label(kind: str) -> str:
    return kind.replace("on_demand", "on-demand").replace("_", " ")


def _registered(row: Any) -> RegisteredDefinition:
    return RegisteredDefinition(
        kind=row["kind"],
        name=row["name"],
        version=row["version"],
        digest=row["digest"],
        spec=dict(row["spec"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
    )
