"""The tracking client: experiments, runs, params, metrics, tags and run artifacts.

One :class:`TrackingClient` talks to one metadata store and one artifact store. The
fluent API (``loopml.start_run``, ``loopml.log_metric``…) is a thin layer over the
process's default client.

Example:
    >>> client = TrackingClient()  # doctest: +SKIP
    >>> run = client.create_run("churn", name="baseline")  # doctest: +SKIP
    >>> client.log_metric(run.id, "auc", 0.91)  # doctest: +SKIP
    >>> client.end_run(run.id)  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from sqlalchemy import Connection, Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from loopml._ids import new_id
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError, NotFoundError, quote
from loopml.paging import Page, check_limit
from loopml.store import Store, open_store
from loopml.store.audit import current_actor, record
from loopml.store.schema import environments, experiments, params, runs
from loopml.store.schema import params as params_table
from loopml.store.schema import tags as tags_table
from loopml.tracking import _validation as check
from loopml.tracking._experiments import to_experiments
from loopml.tracking._hydrate import hydrate_runs
from loopml.tracking._names import run_name
from loopml.tracking.environment import capture_environment as _capture_environment
from loopml.tracking.environment import run_tags
from loopml.tracking.journal import MetricJournal, is_owner_alive, recover_orphans
from loopml.tracking.models import Experiment, ExperimentSummary, Metric, Run, RunStatus
from loopml.tracking.run_artifacts import RunArtifacts

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_EXPERIMENT", "TrackingClient"]

DEFAULT_EXPERIMENT = "Default"
MetricPoint = tuple[str, float, int, int]  # key, value, step, timestamp
_BIG = 2**62  # a plain int step or timestamp below this needs no further check (hot path)


# Built once: creating and ending runs is the hot path of pipelines (one pair per step).
_INSERT_RUN = insert(runs)
_END_RUN = (
    update(runs)
    .where(runs.c.id == bindparam("_id"))
    .values(status=bindparam("status"), end_time=bindparam("end_time"))
)


class TrackingClient:
    """Experiment tracking against one store.

    Args:
        settings: where the metadata and artifacts live; defaults to :meth:`Settings.load`.
        capture_environment: record git state, packages and the command line on new runs.
    """

    def __init__(self, settings: Settings | None = None, *, capture_env: bool = True) -> None:
        self.settings = settings or Settings.load()
        self.store: Store = open_store(self.settings.db_url)
        self.run_artifacts = RunArtifacts(self.store, self.settings.artifacts_url, self._check_run)
        self.capture_env = capture_env
        self._journal: MetricJournal | None = None
        self._journal_lock = threading.Lock()
        self._writable: set[str] = set()
        self._keys: set[str] = set()
        self._experiments: dict[str, Experiment] = {}
        self._stored_environments: set[str] = set()
        recover_orphans(self.store, self.settings.journal_dir)
        self._last_recovery = time.monotonic()
        self.reconcile_dead_runs()

    # -- experiments -------------------------------------------------------------------

    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        """Create an experiment; :class:`ConflictError` if the name is taken."""
        name = check.check_name("experiment", name)
        exp = Experiment(id=new_id(), name=name, created_at=now_ms(), description=description)

        def work(conn: Connection) -> None:
            conn.execute(
                insert(experiments).values(
                    id=exp.id, name=name, description=description, created_at=exp.created_at
                )
            )

        try:
            self.store.transact(work)
        except SqlIntegrityError as err:
            raise ConflictError(f"experiment '{name}' already exists") from err
        return exp

    def get_experiment(self, name_or_id: str) -> Experiment:
        """The experiment with this name (or id)."""
        check.check_name("experiment", name_or_id)
        with self.store.read() as conn:
            row = conn.execute(
                select(experiments).where(
                    (experiments.c.name == name_or_id) | (experiments.c.id == name_or_id)
                )
            ).first()
            if row is None:
                names = conn.execute(select(experiments.c.name)).scalars().all()
                raise NotFoundError(
                    "experiment",
                    name_or_id,
                    choices=names,
                    hint="list them with `loopml experiments list`",
                )
            return to_experiments(conn, [row])[0]

    def experiment_name_of_run(self, run_id: str) -> str | None:
        """The name of the experiment ``run_id`` belongs to; ``None`` for no such run.

        One indexed read, for callers that check rights per experiment on every write.
        """
        _check_run_id(run_id)
        with self.store.read() as conn:
            return conn.execute(
                select(experiments.c.name)
                .join(runs, runs.c.experiment_id == experiments.c.id)
                .where(runs.c.id == run_id)
            ).scalar()

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created if it does not exist yet."""
        cached = self._experiments.get(name)
        if cached is not None:
            return cached
        try:
            found = self.get_experiment(name)
        except NotFoundError:
            try:
                found = self.create_experiment(name)
            except ConflictError:  # another process created it just now
                found = self.get_experiment(name)
        self._experiments[name] = found
        return found

    def list_experiments(self) -> list[Experiment]:
        with self.store.read() as conn:
            rows = conn.execute(
                select(experiments)
                .where(experiments.c.deleted_at.is_(None))
                .order_by(experiments.c.created_at)
            ).all()
        return [Experiment(r.id, r.name, r.created_at, r.description) for r in rows]

    # -- runs --------------------------------------------------------------------------

    def create_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        on_write: Callable[[Connection, Run], None] | None = None,
        capture_environment: bool | None = None,
    ) -> Run:
        """Start a run in ``experiment`` (created if needed) with status ``running``.

        Args:
            experiment: the experiment's name.
            name: a readable name; default a generated one.
            tags: tags to set at start.
            parent_run_id: the run this one is nested in.
            params: params to log at start, in the same transaction.
            on_write: more work for the same transaction (components built on tracking,
                such as pipelines, record their own rows atomically with the run).
            capture_environment: record git state, packages and the command line
                (default: the client's ``capture_env``); a pipeline's step runs leave
                it to their parent run.
        """
        name = run_name() if name is None or name == "" else check.check_name("run", name)
        exp = self.get_or_create_experiment(experiment)
        checked_params = {
            check.check_key("param", k): check.param_value(k, v)
            for k, v in check.mapping("params", params or {}).items()
        }
        if parent_run_id is not None and parent_run_id not in self._writable:
            self._check_run(parent_run_id)  # a run this client started is known to exist
        capture = self.capture_env if capture_environment is None else capture_environment
        all_tags = {**(run_tags() if capture else {}), **_check_tags(tags or {})}
        env = _capture_environment() if capture else None
        run = Run(
            id=new_id(),
            experiment_id=exp.id,
            name=name,
            status=RunStatus.RUNNING,
            start_time=now_ms(),
            parent_run_id=parent_run_id,
            user=current_actor(),
            host=socket.gethostname(),
            tags=all_tags,
        )
        owner = self._get_journal().owner

        fresh_env = env is not None and env.digest not in self._stored_environments

        def work(conn: Connection) -> None:
            if env is not None and fresh_env:
                _insert_environment(conn, env.digest, env.body)
            conn.execute(
                _INSERT_RUN,
                {
                    "id": run.id,
                    "experiment_id": exp.id,
                    "name": run.name,
                    "status": run.status.value,
                    "start_time": run.start_time,
                    "parent_run_id": parent_run_id,
                    "user": run.user,
                    "host": run.host,
                    "owner": owner,
                    "environment_digest": env.digest if env else None,
                },
            )
            if all_tags:
                conn.execute(
                    insert(tags_table),
                    [{"run_id": run.id, "key": k, "value": v} for k, v in all_tags.items()],
                )
            if checked_params:
                conn.execute(
                    insert(params_table),
                    [{"run_id": run.id, "key": k, "value": v} for k, v in checked_params.items()],
                )
            if on_write is not None:
                on_write(conn, run)

        self.store.transact(work)
        if env is not None:
            self._stored_environments.add(env.digest)
        self._writable.add(run.id)
        return run

    def get_run(self, run_id: str) -> Run:
        """The run with its params, latest metrics and tags."""
        _check_run_id(run_id)
        self.flush()
        with self.store.read() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                raise NotFoundError("run", run_id, hint="list runs with `loopml runs list`")
            return hydrate_runs(conn, [row])[0]

    def end_run(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.FINISHED,
        *,
        on_write: Callable[[Connection], None] | None = None,
    ) -> None:
        """Mark a run finished, failed or killed, after ingesting its pending metrics.

        ``on_write`` is more work for the transaction that ends the run.
        """
        status = _check_status(status)
        if run_id not in self._writable:
            self._check_run(run_id)

        def work(conn: Connection) -> None:
            conn.execute(_END_RUN, {"_id": run_id, "status": status.value, "end_time": now_ms()})
            if on_write is not None:
                on_write(conn)

        try:
            self.flush()
        finally:
            self.store.transact(work)
            self._writable.discard(run_id)

    def delete_run(self, run_id: str, reason: str | None = None) -> None:
        """Soft-delete a run (hidden from searches; its artifacts become collectable)."""
        self._check_run(run_id)

        def work(conn: Connection) -> None:
            conn.execute(update(runs).where(runs.c.id == run_id).values(deleted_at=now_ms()))
            record(conn, action="run.delete", object_kind="run", object_id=run_id, reason=reason)

        self.store.transact(work)
        self._writable.discard(run_id)

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run` (before the artifact garbage collection ran)."""
        _check_run_id(run_id)
        self.get_run(run_id)  # NotFoundError for an unknown id

        def work(conn: Connection) -> None:
            conn.execute(update(runs).where(runs.c.id == run_id).values(deleted_at=None))
            record(conn, action="run.restore", object_kind="run", object_id=run_id)

        self.store.transact(work)

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run another readable name (names need not be unique)."""
        name = check.check_name("run", name)
        self._check_run(run_id)
        self.store.transact(
            lambda conn: conn.execute(update(runs).where(runs.c.id == run_id).values(name=name))
        )

    def reconcile_dead_runs(self) -> int:
        """Mark ``killed`` the running runs whose process is gone; return how many."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(runs.c.id, runs.c.owner).where(
                    runs.c.status == RunStatus.RUNNING.value,
                    runs.c.host == socket.gethostname(),
                )
            ).all()
        dead = [row.id for row in rows if is_owner_alive(row.owner) is False]
        if dead:
            self.store.transact(
                lambda conn: conn.execute(
                    update(runs)
                    .where(runs.c.id.in_(dead), runs.c.status == RunStatus.RUNNING.value)
                    .values(status=RunStatus.KILLED.value, end_time=now_ms())
                )
            )
        return len(dead)

    # -- params and tags ---------------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Record a param; re-logging the same value is fine, another value is a conflict."""
        self.log_params(run_id, {key: value})

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        self._check_run(run_id, writable=True)
        checked = {
            check.check_key("param", k): check.param_value(k, v)
            for k, v in check.mapping("params", values).items()
        }
        if not checked:
            return

        def work(conn: Connection) -> None:
            existing = dict(
                conn.execute(
                    select(params.c.key, params.c.value).where(
                        params.c.run_id == run_id, params.c.key.in_(list(checked))
                    )
                ).all()
            )
            changed = {
                k: (existing[k], v)
                for k, v in checked.items()
                if k in existing and existing[k] != v
            }
            if changed:
                key, (old, new) = next(iter(changed.items()))
                raise ConflictError(
                    f"param '{key}' of run {run_id} is already {old!r}; cannot change it to "
                    f"{new!r} (params are immutable: start a new run, or log it as a tag)",
                    details={
                        "run_id": run_id,
                        "conflicts": {k: list(v) for k, v in changed.items()},
                    },
                )
            fresh = [
                {"run_id": run_id, "key": k, "value": v}
                for k, v in checked.items()
                if k not in existing
            ]
            if fresh:
                conn.execute(insert(params), fresh)

        self.store.transact(work)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Set tags (mutable, unlike params)."""
        self._check_run(run_id)
        checked = _check_tags(values)

        def work(conn: Connection) -> None:
            conn.execute(
                tags_table.delete().where(
                    tags_table.c.run_id == run_id, tags_table.c.key.in_(list(checked))
                )
            )
            conn.execute(
                insert(tags_table),
                [{"run_id": run_id, "key": k, "value": v} for k, v in checked.items()],
            )

        if checked:
            self.store.transact(work)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._check_run(run_id)
        self.store.transact(
            lambda conn: conn.execute(
                tags_table.delete().where(tags_table.c.run_id == run_id, tags_table.c.key == key)
            )
        )

    # -- metrics -----------------------------------------------------------------------

    def log_metric(
        self, run_id: str, key: str, value: Any, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Record one point; durable when this returns, visible to queries after a flush.

        ``step`` is an integer and ``timestamp`` Unix milliseconds (default: now; a float
        is rounded down to the millisecond), both within 64 bits. NaN and ±inf are kept.
        """
        if key not in self._keys:
            self._keys.add(check.check_key("metric", key))
        if type(value) is not float:
            value = check.metric_value(key, value)
        if run_id not in self._writable:
            self._check_run(run_id, writable=True)
        self._get_journal().append(
            run_id,
            key,
            value,
            step if type(step) is int and -_BIG < step < _BIG else check.metric_step(step),
            now_ms() if timestamp is None else check.metric_timestamp(timestamp),
        )

    def log_metrics(
        self,
        run_id: str,
        values: Mapping[str, Any],
        step: int = 0,
        timestamp: int | None = None,
    ) -> None:
        """Record several metrics at one step."""
        ts = now_ms() if timestamp is None else check.metric_timestamp(timestamp)
        values = check.mapping("metrics", values)
        self.log_batch(run_id, [(k, v, step, ts) for k, v in values.items()])

    def log_batch(self, run_id: str, points: Iterable[tuple[str, Any, int, int]]) -> int:
        """Record many ``(key, value, step, timestamp)`` points at once; returns how many."""
        self._check_run(run_id, writable=True)
        return self._get_journal().append_many(self._checked_points(run_id, points))

    def _checked_points(
        self, run_id: str, points: Iterable[tuple[str, Any, int, int]]
    ) -> Iterable[tuple[str, str, float, int, int]]:
        keys = self._keys
        for key, value, step, ts in points:
            if key not in keys:
                keys.add(check.check_key("metric", key))
            if type(value) is not float:
                value = check.metric_value(key, value)
            if not (type(step) is int and -_BIG < step < _BIG):
                step = check.metric_step(step)
            if not (type(ts) is int and -_BIG < ts < _BIG):
                ts = check.metric_timestamp(ts)
            yield run_id, key, value, step, ts

    def get_metric_history(
        self, run_id: str, key: str, *, max_points: int | None = None
    ) -> list[Metric]:
        """Every point of one metric, by step then time.

        With ``max_points``, the metric's chart: at most that many points, each step
        range's lowest and highest, so spikes stay visible (:meth:`sampled_metric_history`).
        """
        if max_points is not None:
            return self.sampled_metric_history(run_id, key, max_points)[1]
        self._check_run(run_id)
        self.flush()
        return self._history(run_id, key)

    def _history(self, run_id: str, key: str) -> list[Metric]:
        q = self.store.placeholder
        with self.store.read() as conn:
            # Straight to the driver's cursor: a history can hold millions of points.
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(
                    'SELECT value, is_nan, step, "timestamp" FROM metrics '
                    f'WHERE run_id = {q} AND key = {q} ORDER BY step, "timestamp", id',
                    (run_id, key),
                )
                rows = cursor.fetchall()
            finally:
                cursor.close()
        nan = math.nan
        # Millions of new tuples would trigger many useless cyclic-GC passes; none can cycle.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return [Metric(key, nan if is_nan else v, step, ts) for v, is_nan, step, ts in rows]
        finally:
            if was_enabled:
                gc.enable()

    def sampled_metric_history(
        self, run_id: str, key: str, max_points: int
    ) -> tuple[int, list[Metric]]:
        """One metric's chart, at most ``max_points`` points, and how many it has in all.

        A history of ``max_points`` or fewer comes back whole (with its NaN points). A
        longer one is cut into aligned step ranges, and each gives its lowest and its
        highest point, so spikes survive and the line spans the same steps (NaN points
        are left out). Long histories are charted from rollups kept at ingestion, so a
        chart of a million points reads a few thousand rows (:mod:`loopml.tracking._charts`).

        Raises:
            InvalidInputError: ``max_points`` is not a whole number of at least 1.
            NotFoundError: no such run.

        Example:
            >>> total, chart = client.sampled_metric_history(run_id, "loss", 2000)  # doctest: +SKIP
            >>> total, len(chart) <= 2000  # doctest: +SKIP
            (1000000, True)
        """
        from loopml.tracking import _charts

        _charts.check_max_points(max_points)
        self._check_run(run_id)
        self.flush()
        q = self.store.placeholder
        mine = f"run_id = {q} AND key = {q} AND level = {q}"
        with self.store.read() as conn:
            total, first, last = conn.exec_driver_sql(
                "SELECT sum(points), min(first_step), max(last_step) FROM metric_rollups "
                f"WHERE {mine}",
                (run_id, key, _charts.LEVELS[-1]),
            ).one()
            total = int(total or 0)
            level = _charts.chart_level(total, first or 0, last or 0, max_points)
            if total and total > max_points and level is not None:
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.execute(
                        "SELECT low, low_step, low_ts, high, high_step, high_ts "
                        f"FROM metric_rollups WHERE {mine} AND low IS NOT NULL",
                        (run_id, key, level),
                    )
                    rows = cursor.fetchall()
                finally:
                    cursor.close()
                return total, _charts.thin_candidates(
                    key, _charts.Candidates.of_rows(rows), first, last, max_points
                )
        if not total:
            return 0, []
        return total, _charts.thin(self._history(run_id, key), max_points)

    def flush(self) -> None:
        """Ingest this process's pending metrics and any a dead process left behind.

        Looking for dead processes' journals is done at most once a second.
        """
        if self._journal is not None and self._journal.pid == os.getpid():
            self._journal.flush()
        now = time.monotonic()
        if now - self._last_recovery < 1.0:
            return
        self._last_recovery = now
        recover_orphans(
            self.store,
            self.settings.journal_dir,
            skip=self._journal.path if self._journal is not None else None,
        )

    def close(self) -> None:
        """Flush and release this client's journal."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # -- search ------------------------------------------------------------------------

    @overload
    def search_runs(
        self,
        experiments: str | Sequence[str] | None = ...,
        filter: str | None = ...,
        order_by: Sequence[str] | str | None = ...,
        max_results: int = ...,
        *,
        as_frame: Literal[False] = ...,
        include_deleted: bool = ...,
    ) -> list[Run]: ...

    @overload
    def search_runs(
        self,
        experiments: str | Sequence[str] | None = ...,
        filter: str | None = ...,
        order_by: Sequence[str] | str | None = ...,
        max_results: int = ...,
        *,
        as_frame: Literal[True],
        include_deleted: bool = ...,
    ) -> pd.DataFrame: ...

    def search_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 1000,
        *,
        as_frame: bool = False,
        include_deleted: bool = False,
    ) -> list[Run] | pd.DataFrame:
        """Find runs, e.g. ``filter="metrics.acc > 0.9 and params.model = 'rf'"``.

        Args:
            experiments: experiment names or ids; ``None`` searches all.
            filter: see :mod:`loopml.tracking.search` for the grammar.
            order_by: e.g. ``["metrics.acc desc", "start_time"]``.
            max_results: at most this many runs.
            as_frame: return a pandas DataFrame (``params.*``, ``metrics.*``, ``tags.*`` columns).
        """
        from loopml.tracking.search import compile_order_by

        if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
            raise InvalidInputError(
                f"max_results must be a whole number of at least 1, got {quote(max_results)}"
            )
        order = compile_order_by([order_by] if isinstance(order_by, str) else order_by)
        query = self._runs_query(experiments, filter, include_deleted)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(*order).limit(max_results)).all()
            found = hydrate_runs(conn, rows)
        if as_frame:
            from loopml.tracking._frames import runs_frame

            return runs_frame(found)
        return found

    def list_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page[Run]:
        """One page of the runs :meth:`search_runs` finds, in the same order.

        Keyset paging: a page starts after the sort key of the previous page's last run,
        so runs logged between two calls neither repeat nor shift the pages.

        Args:
            experiments: experiment names or ids; ``None`` lists all.
            filter: see :mod:`loopml.tracking.search` for the grammar.
            order_by: e.g. ``["metrics.acc desc"]`` (default: newest first).
            limit: at most this many runs on the page.
            page_token: the ``next_page_token`` of the previous page; ``None`` for the first.
            include_deleted: also list deleted runs.

        Raises:
            InvalidInputError: a bad filter, order, limit, or a token of another listing.

        Example:
            >>> order = "metrics.auc desc"
            >>> page = client.list_runs("churn", order_by=order, limit=50)  # doctest: +SKIP
            >>> token = page.next_page_token  # doctest: +SKIP
            >>> more = client.list_runs("churn", order_by=order, page_token=token)  # doctest: +SKIP
        """
        from sqlalchemy import Column

        from loopml.store.paging import page_of, paged_query
        from loopml.tracking.search import run_sort_keys

        limit = check_limit(limit)
        keyed = run_sort_keys(order_by)
        # Expressions (a metric, a param) are selected under a label so the page's last
        # row carries its sort key.
        order = [
            (key if isinstance(key, Column) else key.label(f"sort_{i}"), desc)
            for i, (key, desc) in enumerate(keyed)
        ]
        query = self._runs_query(experiments, filter, include_deleted).add_columns(
            *(key for key, _ in order if not isinstance(key, Column))
        )
        with self.store.read() as conn:
            rows = conn.execute(paged_query(query, order, limit, page_token)).all()
            page = page_of(rows, order, limit)
            return Page(hydrate_runs(conn, page.items), page.next_page_token)

    def _runs_query(
        self,
        experiments: str | Sequence[str] | None,
        filter: str | None,
        include_deleted: bool,
    ) -> Select[Any]:
        """The runs of ``experiments`` that ``filter`` keeps (unordered)."""
        from loopml.tracking.search import compile_filter

        if filter is not None and not isinstance(filter, str):
            raise InvalidInputError(
                f'filter must be a string such as "metrics.acc > 0.9", got '
                f"{type(filter).__name__} {quote(filter)}"
            )
        where = compile_filter(filter)
        self.flush()
        query = select(runs)
        if experiments is not None:
            names = [experiments] if isinstance(experiments, str) else list(experiments)
            query = query.where(
                runs.c.experiment_id.in_([self.get_experiment(n).id for n in names])
            )
        if not include_deleted:
            query = query.where(runs.c.deleted_at.is_(None))
        if where is not None:
            query = query.where(where)
        return query

    # -- experiments: tags and search ------------------------------------------------------

    def set_experiment_tags(self, experiment: str, values: Mapping[str, Any]) -> Experiment:
        """Set tags on the experiment named ``experiment`` (or with that id); returns it.

        Tags are mutable: setting a key again replaces its value.
        """
        from loopml.tracking._experiments import replace_tags

        if not isinstance(values, Mapping):
            raise InvalidInputError(
                f"experiment tags must be a mapping of key to value, got {type(values).__name__}"
            )
        found = self.get_experiment(experiment)
        checked = _check_tags(values)
        if checked:
            self.store.transact(lambda conn: replace_tags(conn, found.id, checked))
        self._experiments.pop(found.name, None)
        return self.get_experiment(found.id)

    def rename_experiment(self, experiment: str, new_name: str) -> Experiment:
        """Rename the experiment named ``experiment`` (or with that id); returns it.

        Raises:
            ConflictError: another experiment has ``new_name``.
        """
        new_name = check.check_name("experiment", new_name)
        found = self.get_experiment(experiment)

        def work(conn: Connection) -> None:
            conn.execute(
                update(experiments).where(experiments.c.id == found.id).values(name=new_name)
            )
            record(
                conn,
                action="experiment.rename",
                object_kind="experiment",
                object_id=found.id,
                reason=f"{found.name} -> {new_name}",
            )

        try:
            self.store.transact(work)
        except SqlIntegrityError as err:
            raise ConflictError(
                f"experiment '{new_name}' already exists; choose another name"
            ) from err
        self._experiments.clear()
        return self.get_experiment(found.id)

    def delete_experiment(self, experiment: str) -> None:
        """Soft-delete an experiment: hidden from listings; its runs are kept."""
        self._set_experiment_deleted(experiment, now_ms(), "experiment.delete")

    def restore_experiment(self, experiment: str) -> None:
        """Undo :meth:`delete_experiment`."""
        self._set_experiment_deleted(experiment, None, "experiment.restore")

    def _set_experiment_deleted(self, experiment: str, when: int | None, action: str) -> None:
        found = self.get_experiment(experiment)

        def work(conn: Connection) -> None:
            conn.execute(
                update(experiments).where(experiments.c.id == found.id).values(deleted_at=when)
            )
            record(conn, action=action, object_kind="experiment", object_id=found.id)

        self.store.transact(work)
        self._experiments.clear()

    def search_experiments(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 1000,
        *,
        include_deleted: bool = False,
    ) -> list[Experiment]:
        """Find experiments, e.g. ``filter="name LIKE 'churn%' AND tags.team = 'risk'"``.

        Args:
            filter: the run-search grammar (:mod:`loopml.tracking.search`) over ``name``,
                ``id`` and ``tags.<key>``.
            order_by: e.g. ``["name"]`` or ``"created_at DESC"`` (default: newest first).
            max_results: at most this many experiments.
            include_deleted: also return deleted experiments.
        """
        from loopml.tracking._experiments import (
            compile_experiment_filter,
            compile_experiment_order_by,
        )

        if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
            raise InvalidInputError(f"max_results must be an integer >= 1, got {max_results!r}")
        where = compile_experiment_filter(filter)
        query = select(experiments)
        if not include_deleted:
            query = query.where(experiments.c.deleted_at.is_(None))
        if where is not None:
            query = query.where(where)
        query = query.order_by(*compile_experiment_order_by(order_by)).limit(max_results)
        with self.store.read() as conn:
            return to_experiments(conn, conn.execute(query).all())

    def list_experiment_summaries(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[ExperimentSummary]:
        """One page of live experiments, each with its live run count and latest run start.

        Args:
            filter: as in :meth:`search_experiments`, e.g. ``"tags.team = 'risk'"``.
            order_by: as in :meth:`search_experiments` (default: newest first).
            limit: at most this many experiments on the page.
            page_token: the ``next_page_token`` of the previous page; ``None`` for the first.

        Example:
            >>> page = client.list_experiment_summaries(order_by="name", limit=20)  # doctest: +SKIP
            >>> [(s.experiment.name, s.runs) for s in page.items]  # doctest: +SKIP
        """
        from sqlalchemy import func

        from loopml.store.paging import page_of, paged_query
        from loopml.tracking._experiments import compile_experiment_filter, experiment_sort_keys

        limit = check_limit(limit)
        order = experiment_sort_keys(order_by)
        query = select(experiments).where(experiments.c.deleted_at.is_(None))
        where = compile_experiment_filter(filter)
        if where is not None:
            query = query.where(where)
        query = paged_query(query, order, limit, page_token)
        with self.store.read() as conn:
            page = page_of(conn.execute(query).all(), order, limit)
            found = to_experiments(conn, page.items)
            counts = {
                exp_id: (count, last)
                for exp_id, count, last in conn.execute(
                    select(runs.c.experiment_id, func.count(), func.max(runs.c.start_time))
                    .where(
                        runs.c.deleted_at.is_(None),
                        runs.c.experiment_id.in_([exp.id for exp in found]),
                    )
                    .group_by(runs.c.experiment_id)
                )
            }
        items = [ExperimentSummary(exp, *counts.get(exp.id, (0, None))) for exp in found]
        return Page(items, page.next_page_token)

    # -- images and tables -------------------------------------------------------------

    def log_image(self, run_id: str, image: Any, artifact_path: str) -> str:
        """Store an image in the run: a numpy array (HxW, HxWx3, HxWx4; uint8 or floats
        in [0, 1]) as PNG, or a PIL image in the format of the extension."""
        from loopml.tracking._media import image_bytes  # numpy only when used

        return self.run_artifacts.log_bytes(
            run_id, image_bytes(image, artifact_path), artifact_path
        )

    def log_table(self, run_id: str, table: Any, artifact_path: str) -> str:
        """Store a DataFrame (or a dict of columns) in the run as ``.parquet`` or ``.json``."""
        from loopml.tracking._media import table_bytes  # pandas only when used

        return self.run_artifacts.log_bytes(
            run_id, table_bytes(table, artifact_path), artifact_path
        )

    def load_table(self, run_id: str, artifact_path: str) -> pd.DataFrame:
        """The DataFrame :meth:`log_table` stored at ``artifact_path`` of the run."""
        from loopml.tracking._media import read_table

        return read_table(self.run_artifacts.read_bytes(run_id, artifact_path), artifact_path)

    # -- artifacts (delegated) ---------------------------------------------------------

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str = "") -> str:
        """Store one file under ``artifact_path``; returns its path inside the run."""
        return self.run_artifacts.log_file(run_id, Path(local_path), artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | Path, artifact_path: str = ""
    ) -> list[str]:
        """Store every file below ``local_dir`` under ``artifact_path``."""
        return self.run_artifacts.log_dir(run_id, Path(local_dir), artifact_path)

    # -- internals ---------------------------------------------------------------------

    def _get_journal(self) -> MetricJournal:
        journal = self._journal
        if journal is None or journal.pid != os.getpid():
            with self._journal_lock:
                if self._journal is None or self._journal.pid != os.getpid():
                    self._journal = MetricJournal(
                        self.store, self.settings.journal_dir, self.settings.metrics_flush_s
                    )
                journal = self._journal
        return journal

    def _check_run(self, run_id: str, writable: bool = False) -> None:
        if writable and run_id in self._writable:
            return
        _check_run_id(run_id)
        with self.store.read() as conn:
            row = conn.execute(select(runs.c.deleted_at).where(runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError("run", run_id, hint="list runs with `loopml runs list`")
        if row.deleted_at is not None:
            raise NotFoundError("run", run_id, hint="it was deleted")
        if writable:
            self._writable.add(run_id)


def _insert_environment(conn: Connection, digest: str, body: dict[str, Any]) -> None:
    exists = conn.execute(
        select(environments.c.digest).where(environments.c.digest == digest)
    ).first()
    if exists is None:
        conn.execute(insert(environments).values(digest=digest, body=body))


def _check_tags(values: Mapping[str, Any]) -> dict[str, str]:
    return {
        check.check_key("tag", k): check.tag_value(k, v)
        for k, v in check.mapping("tags", values).items()
    }


def _check_run_id(run_id: object) -> None:
    if not isinstance(run_id, str) or not run_id:
        raise InvalidInputError(
            f"run id must be a non-empty string, got {type(run_id).__name__} {quote(run_id)}; "
            "pass a run's id (run.id), or list runs with `loopml runs list`"
        )


def _check_status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(str(status).lower())
    except ValueError as err:
        raise InvalidInputError(
            f"unknown run status {status!r}; use one of {[s.value for s in RunStatus]}"
        ) from err
