"""The feature store: the one object that registers, joins, materializes and serves features.

:class:`FeatureStore` holds the rules; the pieces it uses each do one thing: the
:class:`~loopml.features.registry.Registry` keeps versioned definitions,
:mod:`~loopml.features.offline` makes point-in-time training sets,
:mod:`~loopml.features.materialize` fills the online store and an
:class:`~loopml.features.online.OnlineStore` backend persists packed rows.

Example:
    >>> store = FeatureStore()  # doctest: +SKIP
    >>> store.apply([driver, driver_stats, trip_density])  # doctest: +SKIP
    >>> train = store.get_training_set(entity_df, ["driver_stats:trips"])  # doctest: +SKIP
    >>> store.materialize_incremental()  # doctest: +SKIP
    >>> rows = [{"driver_id": 1001}]
    >>> store.get_online_features(rows, ["driver_stats:trips"]).to_dict()  # doctest: +SKIP
    {'driver_id': [1001], 'trips': [12]}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from loopml.clock import Clock, now_ms, now_us
from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.features._lookup import ViewReader, lookup
from loopml.features._refs import FeaturePlan, plan_features
from loopml.features._sources import check_source
from loopml.features._usage import features_of_run, link_features
from loopml.features.definitions import FeatureView
from loopml.features.loader import rebase
from loopml.features.materialize import Progress, materialize_view
from loopml.features.models import (
    ApplyResult,
    FeatureUse,
    Kind,
    Materialization,
    MaterializationResult,
    OnlineResponse,
    RegisteredDefinition,
    ResolvedFeatures,
)
from loopml.features.offline import DEFAULT_TIMESTAMP_COLUMN, training_set
from loopml.features.on_demand import OnDemandFeatureView
from loopml.features.online import OnlineStore, from_url
from loopml.features.registry import Definition, Definitions, Registry
from loopml.paging import check_limit
from loopml.store import open_store
from loopml.store.lineage import add_edge_once
from loopml.store.schema import materializations, runs
from loopml.uris import dataset_uri

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FeatureStore"]

_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)  # where an incremental run starts without a TTL


class FeatureStore:
    """Feature definitions, training sets and online features over one loopml home.

    Args:
        settings: where metadata lives and which online store to use
            (``settings.online_store_url``); :meth:`Settings.load` by default.
        online_store: an online store (or its URL) to use instead of the settings' one.
        clock: where "now" comes from, for TTL checks and default window ends: a
            :data:`loopml.clock.Clock` (Unix seconds); by default loopml's current clock.
            Pass a fixed one to read "as of" a moment, or a
            :class:`loopml.testing.FakeClock` in tests.
        definitions_ttl: seconds a process keeps the definitions it read before asking the
            registry again (``apply`` and :meth:`refresh` reload at once).

    Example:
        >>> store = FeatureStore(online_store="memory://")  # doctest: +SKIP
        >>> store.apply([driver, driver_stats]).changed  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        online_store: OnlineStore | str | None = None,
        clock: Clock | None = None,
        definitions_ttl: float = 60.0,
    ) -> None:
        self.settings = settings or Settings.load()
        self.registry = Registry(open_store(self.settings.db_url))
        self._online_given = online_store
        self._online: OnlineStore | None = None
        self._clock = clock
        self._definitions_ttl = definitions_ttl
        self._definitions: Definitions | None = None
        self._loaded_at = 0.0
        self._plans: dict[tuple[tuple[str, ...], bool], tuple[FeaturePlan, list[ViewReader]]] = {}
        self._lock = threading.Lock()

    # -- definitions -------------------------------------------------------------------

    def apply(self, definitions: Iterable[Definition], *, reason: str | None = None) -> ApplyResult:
        """Register definitions: a new version of each one that changed, in one transaction.

        Relative Parquet sources are made absolute against the working directory. A view
        whose source exists now is checked against its schema (only the schema is read):
        a join key, timestamp field or feature the source lacks is refused here rather
        than at materialize. Nothing is written when any definition is refused.

        Returns:
            The diff: per definition ``created``, ``updated`` (with the changed fields) or
            ``unchanged``.

        Example:
            >>> store.apply([driver, driver_stats]).changed  # doctest: +SKIP
            True
        """
        base = Path.cwd()
        batch = [rebase(d, base) for d in definitions]
        for view in _views_of(batch):
            check_source(view, self.settings)
        result = self.registry.apply(batch, reason=reason)
        self.refresh()
        return result

    def list_definitions(self, kind: Kind | None = None) -> list[RegisteredDefinition]:
        """The latest version of every definition (or of one ``kind``)."""
        return self.registry.latest(kind)

    def get_definition(
        self, name: str, kind: Kind | None = None, version: int | None = None
    ) -> RegisteredDefinition:
        """One definition by name (latest, or ``version``); close matches when unknown."""
        return self.registry.get(name, kind, version)

    def definitions(self) -> Definitions:
        """The current definitions as objects (cached for ``definitions_ttl`` seconds)."""
        now = time.monotonic()
        current = self._definitions
        if current is None or now - self._loaded_at > self._definitions_ttl:
            loaded = self.registry.load()
            with self._lock:
                if current is None or loaded.versions != current.versions:
                    self._definitions, self._plans = loaded, {}
                self._loaded_at = now
        assert self._definitions is not None
        return self._definitions

    def refresh(self) -> None:
        """Read the definitions again on next use (another process may have applied)."""
        self._loaded_at = float("-inf")

    # -- offline -----------------------------------------------------------------------

    def get_training_set(
        self,
        entity_df: pd.DataFrame,
        features: Sequence[str],
        *,
        timestamp_column: str = DEFAULT_TIMESTAMP_COLUMN,
        full_feature_names: bool = False,
        run_id: str | None = None,
    ) -> pd.DataFrame:
        """Point-in-time correct feature values for each row of ``entity_df``.

        Inside an active run (or for ``run_id``) the run is recorded as having consumed
        each feature view read and each dataset version a view's source resolved to.

        Args:
            entity_df: the join keys of the requested views, a timestamp column and the
                request fields on-demand views need; kept as it is, rows and order too.
            features: references such as ``"driver_stats:trips"`` or ``"driver_stats:*"``.
            timestamp_column: the column saying when each row happened (naive = UTC).
            full_feature_names: name columns ``<view>__<feature>`` instead of ``<feature>``.

        Returns:
            ``entity_df`` with one column per feature: the value of the latest row at or
            before the row's timestamp and within the view's TTL, else null.

        Example:
            >>> store.get_training_set(orders, ["driver_stats:trips"])  # doctest: +SKIP
        """
        plan = self._plan(features, full_feature_names)[0]
        if run_id is None:
            from loopml.tracking.fluent import active_run

            active = active_run()
            run_id = active.id if active is not None else None
        read: list[tuple[str, tuple[str, int] | None]] = []
        frame = training_set(
            entity_df,
            plan,
            self.settings,
            timestamp_column=timestamp_column,
            on_source=lambda view, dataset: read.append((view, dataset)),
        )
        if run_id is not None:
            self._link_run(run_id, read, plan)
        return frame

    def _link_run(
        self,
        run_id: str,
        read: Sequence[tuple[str, tuple[str, int] | None]],
        plan: FeaturePlan,
    ) -> None:
        versions = self.definitions()
        columns = {r.view.name: {c: f for f, c in r.outputs.items()} for r in plan.views}

        def record(conn: Connection) -> None:
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                raise NotFoundError("run", run_id, hint="list runs with `loopml runs list`")
            for od in plan.on_demand:
                kind, name = "on_demand_feature_view", od.view.name
                node = (kind, f"{name}/{versions.version_of(kind, name)}")
                link_features(conn, ("run", run_id), node, {c: f for f, c in od.outputs.items()})
            for view, dataset in read:
                node = ("feature_view", f"{view}/{versions.version_of('feature_view', view)}")
                link_features(conn, ("run", run_id), node, columns.get(view, {}))
                if dataset is not None:
                    dataset_node = ("dataset_version", f"{dataset[0]}/{dataset[1]}")
                    _link_once(conn, ("run", run_id), dataset_node)
                    _link_once(conn, node, dataset_node)

        self.registry.store.transact(record)

    def training_features(self, run_id: str) -> list[FeatureUse]:
        """The features the run's training sets gave it: column, reference, view version.

        A model logged from the run was trained on these columns, so a server can look
        the same features up online (see :mod:`loopml.serving.lookup`). Empty when the
        run built no training set from this store.

        Example:
            >>> [f.reference for f in store.training_features(run.id)]  # doctest: +SKIP
            ['driver_stats:trips', 'driver_stats:rating']
        """
        with self.registry.store.read() as conn:
            return features_of_run(conn, run_id)

    def resolve_features(
        self, features: Sequence[str], *, full_feature_names: bool = False
    ) -> ResolvedFeatures:
        """``features`` resolved against the current definitions: the column of each
        reference (wildcards expanded), and the join keys and request fields a lookup needs.

        Raises:
            InvalidInputError: a malformed reference, or two that would share a column.
            NotFoundError: an unknown view or feature (with close matches).

        Example:
            >>> store.resolve_features(["driver_stats:*"]).columns  # doctest: +SKIP
            {'trips': 'driver_stats:trips', 'rating': 'driver_stats:rating'}
        """
        plan = self._plan(features, full_feature_names)[0]
        owners = {c: f"{r.view.name}:{f}" for r in plan.views for f, c in r.outputs.items()}
        owners.update(
            (c, f"{od.view.name}:{f}") for od in plan.on_demand for f, c in od.outputs.items()
        )
        return ResolvedFeatures(
            columns={column: owners[column] for column in plan.columns},
            join_keys=plan.join_keys,
            request_fields=tuple(name for name, _ in plan.request_fields),
        )

    # -- materialization ---------------------------------------------------------------

    def materialize(
        self,
        start: datetime,
        end: datetime | None = None,
        *,
        views: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> list[MaterializationResult]:
        """Write each entity's latest row in ``[start, end)`` to the online store.

        Args:
            start: the window's inclusive start (naive datetimes are UTC).
            end: its exclusive end; now by default.
            views: names of the feature views to materialize; all by default.
            progress: called with ``(view, entities written so far)`` after each batch.

        Example:
            >>> store.materialize(datetime(2025, 1, 1), datetime(2025, 2, 1))  # doctest: +SKIP
        """
        end_us = self._now_us() if end is None else _micros(end, "end")
        start_us = _micros(start, "start")
        if start_us >= end_us:
            raise InvalidInputError(
                f"materialize needs start < end, got start={_iso(start_us)}, end={_iso(end_us)}"
            )
        return [
            self._materialize_one(view, start_us, end_us, progress) for view in self._views(views)
        ]

    def materialize_incremental(
        self,
        end: datetime | None = None,
        *,
        views: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> list[MaterializationResult]:
        """Materialize each view from where its last run into this online store ended.

        A view (version) never materialized into this store starts ``ttl`` before
        ``end``, or at the beginning of time when it has no TTL. Views already up to
        ``end`` report 0 rows.
        """
        end_us = self._now_us() if end is None else _micros(end, "end")
        results = []
        for view in self._views(views):
            version = self.definitions().version_of("feature_view", view.name)
            last = self._watermark(view.name, version)
            if last is not None:
                start_us = last
            elif view.ttl is not None:
                start_us = end_us - int(view.ttl.total_seconds() * 1_000_000)
            else:
                start_us = _micros(_EARLIEST, "start")
            if start_us >= end_us:
                results.append(
                    MaterializationResult(view.name, version, _dt(start_us), _dt(end_us), 0)
                )
                continue
            results.append(self._materialize_one(view, start_us, end_us, progress))
        return results

    def materializations(self, view: str, *, limit: int = 20) -> list[Materialization]:
        """The newest materialization runs of feature view ``view`` (any version, any
        online store), newest first.

        Raises:
            NotFoundError: no feature view ``view`` (with close names).

        Example:
            >>> [m.rows for m in store.materializations("driver_stats", limit=2)]  # doctest: +SKIP
            [0, 1200]
        """
        self.get_definition(view, "feature_view")
        limit = check_limit(limit)
        m = materializations.c
        with self.registry.store.read() as conn:
            rows = conn.execute(
                select(materializations)
                .where(m.feature_view == view)
                .order_by(m.id.desc())
                .limit(limit)
            ).all()
        return [
            Materialization(
                view=row.feature_view,
                version=row.view_version,
                start=row.start_time,
                end=row.end_time,
                rows=row.rows,
                online_store=row.online_store,
                created_at=row.created_at,
            )
            for row in rows
        ]

    def _materialize_one(
        self, view: FeatureView, start_us: int, end_us: int, progress: Progress | None
    ) -> MaterializationResult:
        version = self.definitions().version_of("feature_view", view.name)
        done = materialize_view(
            view, self.online, self.settings, start_us=start_us, end_us=end_us, progress=progress
        )

        def record(conn: Connection) -> None:
            conn.execute(
                materializations.insert().values(
                    feature_view=view.name,
                    view_version=version,
                    start_time=start_us // 1000,
                    end_time=end_us // 1000,
                    rows=done.rows,
                    online_store=self.online.url,
                    created_at=now_ms(),
                )
            )
            if done.dataset_version is not None:
                _link_dataset(conn, (view.name, version), done.dataset_version)

        self.registry.store.transact(record)
        return MaterializationResult(view.name, version, _dt(start_us), _dt(end_us), done.rows)

    def _watermark(self, view: str, version: int) -> int | None:
        m = materializations.c
        with self.registry.store.read() as conn:
            last = conn.execute(
                select(func.max(m.end_time)).where(
                    m.feature_view == view,
                    m.view_version == version,
                    m.online_store == self.online.url,
                )
            ).scalar()
        return None if last is None else int(last) * 1000

    def _views(self, names: Sequence[str] | None) -> list[FeatureView]:
        known = self.definitions().views
        if names is None:
            return list(known.values())
        for name in names:
            if name not in known:
                raise NotFoundError(
                    "feature view",
                    name,
                    choices=known,
                    hint="on-demand views are computed at read time and never materialized"
                    if name in self.definitions().on_demand
                    else "list them with `loopml features list`",
                )
        return [known[name] for name in dict.fromkeys(names)]

    # -- online ------------------------------------------------------------------------

    @property
    def online(self) -> OnlineStore:
        """The online store (opened on first use)."""
        if self._online is None:
            given = self._online_given
            if given is None:
                given = self.settings.online_store_url
            self._online = from_url(given) if isinstance(given, str) else given
        return self._online

    def get_online_features(
        self,
        entity_rows: Sequence[Mapping[str, Any]] | pd.DataFrame,
        features: Sequence[str],
        *,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        """The current values of ``features`` for each entity row, from the online store.

        Args:
            entity_rows: dicts holding the join keys (and the request fields on-demand
                views need), or a DataFrame of them.
            features: references such as ``"driver_stats:trips"``.
            full_feature_names: name columns ``<view>__<feature>``.

        Returns:
            Per row, the join keys and each feature's value: ``None`` when the entity has
            no value, or only one older than the view's TTL (checked against now).

        Example:
            >>> rows = [{"driver_id": 1001}]
            >>> store.get_online_features(rows, ["driver_stats:trips"])  # doctest: +SKIP
            OnlineResponse(columns={'driver_id': [1001], 'trips': [12]})
        """
        plan, readers = self._plan(features, full_feature_names)
        rows = _entity_rows(entity_rows)
        return lookup(plan, readers, self.online, rows, self._now_us())

    def _plan(
        self, features: Sequence[str], full_feature_names: bool
    ) -> tuple[FeaturePlan, list[ViewReader]]:
        definitions = self.definitions()
        key = (
            tuple(features) if not isinstance(features, str) else (features,),
            full_feature_names,
        )
        found = self._plans.get(key)
        if found is None:
            plan = plan_features(features, definitions, full_feature_names=full_feature_names)
            found = (plan, [ViewReader(read) for read in plan.views])
            self._plans[key] = found
        return found

    def _now_us(self) -> int:
        return now_us(self._clock)

    def close(self) -> None:
        """Close the online store's connections."""
        if self._online is not None and self._online_given is None:
            self._online.close()
        self._online = None

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _entity_rows(entity_rows: Any) -> Sequence[Mapping[str, Any]]:
    if isinstance(entity_rows, Mapping):
        raise InvalidInputError(
            "entity_rows must be a list of dicts (one per entity) or a DataFrame, "
            "e.g. [{'driver_id': 1001}]"
        )
    if hasattr(entity_rows, "to_dict") and hasattr(entity_rows, "columns"):
        records: list[Mapping[str, Any]] = entity_rows.to_dict("records")
        return records
    rows = list(entity_rows)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInputError(
                f"entity row {index} is {row!r}; give each row as a dict such as "
                "{'driver_id': 1001}"
            )
    return rows


def _micros(moment: datetime, what: str) -> int:
    if not isinstance(moment, datetime):
        raise InvalidInputError(f"{what} must be a datetime, got {moment!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _dt(micros: int) -> datetime:
    from datetime import timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _iso(micros: int) -> str:
    return _dt(micros).isoformat()


def _link_dataset(conn: Connection, view: tuple[str, int], dataset: tuple[str, int]) -> None:
    src = ("feature_view", f"{view[0]}/{view[1]}")
    _link_once(conn, src, ("dataset_version", f"{dataset[0]}/{dataset[1]}"))


def _link_once(conn: Connection, src: tuple[str, str], dst: tuple[str, str]) -> None:
    attributes = None
    if dst[0] == "dataset_version":  # its key is "<name>/<version>"
        name, _, version = dst[1].rpartition("/")
        attributes = {"uri": dataset_uri(name, int(version))}
    add_edge_once(conn, src, "consumed", dst, attributes)


def _views_of(batch: Sequence[object]) -> list[FeatureView]:
    """The feature views of a batch, with those its on-demand views read, once each."""
    found: dict[str, FeatureView] = {}
    for item in batch:
        if isinstance(item, FeatureView):
            found.setdefault(item.name, item)
        elif isinstance(item, OnDemandFeatureView):
            for view in item.source_views:
                found.setdefault(view.name, view)
    return list(found.values())
