"""Monitors: a deployment watched against a stored reference, window by window, with alerts.

:class:`MonitorClient` is monitoring's service layer (the CLI, the automation controller
and the server call the same methods):

- :meth:`~MonitorClient.create` stores a monitor on a deployment. Its reference is
  ``--reference`` (``datasets:/churn_train/3`` or a Parquet/CSV file) or, by default, the
  training data of the version the deployment serves, found through lineage (the run
  that produced the version, and the dataset version it consumed). The reference is
  sketched **once** (:func:`loopml.data.sketch.sketch_table`: quantiles, category counts,
  missing counts, per-chunk statistics for calibrated thresholds) and the sketch is
  stored as a blob: no window reads the raw reference again. When the version can be
  loaded, its predictions on (up to 50,000 rows of) the reference are sketched too, for
  prediction drift.
- :meth:`~MonitorClient.run` computes the windows that are due (time windows like
  ``1h``, aligned to the epoch; or row counts like ``5000 rows``) from the payload log,
  with labels joined, measures each (:func:`~loopml.monitoring.windows.measure_window`),
  judges each alert rule on it, stores it (a lineage node: the window was evaluated on
  the deployment and the versions that answered, against the reference) and fires or
  resolves alerts (:mod:`loopml.monitoring.rules`), each an event for webhooks and the
  automation controller, with an audit row.
- :meth:`~MonitorClient.windows`, :meth:`~MonitorClient.alerts`,
  :meth:`~MonitorClient.ack`, :meth:`~MonitorClient.status`,
  :meth:`~MonitorClient.events` read them back.

Example:
    >>> client = MonitorClient()  # doctest: +SKIP
    >>> client.create("churn-api", window="1h", rules=["drift", "accuracy < 0.8"])  # doctest: +SKIP
    >>> [w.dataset_drifted for w in client.run("churn-api")]  # doctest: +SKIP
    [False, False, True]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from loopml import webhooks
from loopml.artifacts import ArtifactStore
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.monitoring import events as _events
from loopml.monitoring._alerts import advance, recent_verdicts
from loopml.monitoring._config import (
    check_config,
    check_name,
    check_share,
    check_thresholds,
    parse_window,
)
from loopml.monitoring._records import alert_of, find_alert, monitor_of, window_of
from loopml.monitoring._references import (
    REFERENCE_OWNER,
    References,
    load_reference,
    reference_nodes,
    served,
    sketch_reference,
    training_data,
    window_schema,
)
from loopml.monitoring._window import Moment, to_ms
from loopml.monitoring.gauges import gauges_text
from loopml.monitoring.models import (
    Alert,
    AlertRule,
    Monitor,
    MonitorEvent,
    MonitorWindow,
)
from loopml.monitoring.reader import read_predictions
from loopml.monitoring.rules import check_rules, judge
from loopml.monitoring.segments import query_segments
from loopml.monitoring.windows import (
    Measured,
    measure_performance,
    measure_window,
    stream_rows,
)
from loopml.paging import Page, check_limit, decode_page_token, encode_page_token
from loopml.store import Store, open_store
from loopml.store.audit import current_actor
from loopml.store.audit import record as audit
from loopml.store.lineage import add_edges
from loopml.store.schema import (
    artifact_files,
    feedback,
    monitor_alerts,
    monitor_windows,
    monitors,
)
from loopml.uris import dataset_uri, is_uri, strip_scheme
from loopml.webhooks import Webhook

if TYPE_CHECKING:
    import pandas as pd

    from loopml.data.schema import DataSchema

__all__ = ["MAX_WINDOWS", "REFERENCE_OWNER", "MonitorClient", "References", "parse_window"]

MAX_WINDOWS = 500
"""The most windows one :meth:`MonitorClient.run` computes (the latest ones when more are due)."""


class MonitorClient:
    """Monitors, their windows and alerts, in the metadata store (module docstring)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.load()
        self.store: Store = open_store(self.settings.db_url)
        self._artifacts: ArtifactStore | None = None
        self._references: dict[str, References] = {}
        # The latest stored evaluation per version, read once per run (baselines).
        self._evaluations: dict[tuple[str, int], dict[str, Any] | None] = {}

    @property
    def artifact_store(self) -> ArtifactStore:
        if self._artifacts is None:
            self._artifacts = ArtifactStore.from_url(self.settings.artifacts_url)
        return self._artifacts

    # -- monitors ----------------------------------------------------------------------

    def create(
        self,
        deployment: str,
        *,
        name: str | None = None,
        reference: str | None = None,
        window: str = "1h",
        features: Sequence[str] = (),
        target: str | None = None,
        task: str | None = None,
        prediction: str = "predict",
        probability: str | None = None,
        schema: DataSchema | str | Path | None = None,
        method: str = "auto",
        thresholds: Mapping[str, float] | None = None,
        correction: str | None = "bh",
        alpha: float = 0.05,
        share_threshold: float = 0.5,
        importance: Mapping[str, float] | None = None,
        rules: Sequence[str | AlertRule] | None = None,
        predict_reference: bool = True,
        replace_existing: bool = False,
    ) -> Monitor:
        """Store a monitor on ``deployment`` (see the module docstring).

        Args:
            deployment: the deployment whose payload log it watches, or a table stream:
                ``datasets:/NAME``, whose every new version is a window (its columns the
                features; ``target`` the labels, ``prediction`` a model's scores when the
                rows carry them); a stream needs ``reference``.
            name: the monitor's name (the deployment's by default).
            reference: ``datasets:/name/3`` or a Parquet/CSV file; by default the served
                version's training data, found through lineage.
            window: ``1h``-style durations or ``N rows``.
            features: the features watched (default: the model's inputs in the reference).
            target: the label column of the reference (default: the version's evaluation's).
            task: ``classification`` or ``regression`` (default: the evaluation's, else
                inferred from the labels).
            prediction: the output compared with labels.
            probability: the output with the positive class's probability (binary
                classifiers): performance is also estimated without labels (CBPE).
            schema: a data schema (a TOML file, or loaded) each window's inputs are
                checked against: types, nulls, ranges, categories, extra columns (drift,
                row counts and uniqueness are left to the monitor). Stored with the
                reference.
            method, thresholds, correction, alpha, share_threshold, importance: drift
                options (:func:`loopml.data.sketch.drift_against`); without ``thresholds``
                they are calibrated on the reference.
            rules: alert rules (:mod:`loopml.monitoring.rules`); default
                :data:`~loopml.monitoring.rules.DEFAULT_RULES`.
            predict_reference: sketch the model's predictions on the reference, for
                prediction drift.
            replace_existing: replace a monitor of the same name (its windows and alerts
                stay).

        Raises:
            NotFoundError: no such deployment, dataset or version.
            ConflictError: a monitor of that name exists (pass ``replace_existing``).
            InvalidInputError: a bad option, or no reference can be found.
        """
        stream = _stream_source(deployment)
        name = check_name(name or (deployment if stream is None else stream))
        config = check_config(
            window=window,
            features=features,
            target=target,
            task=task,
            prediction=prediction,
            probability=probability,
            method=method,
            thresholds=thresholds,
            correction=correction,
            alpha=alpha,
            share_threshold=share_threshold,
            importance=importance,
            rules=rules,
        )
        model: str | None = None
        version: int | None = None
        with self.store.read() as conn:
            if stream is None:
                model, version = served(conn, deployment, self.settings)
            exists = conn.execute(select(monitors.c.name).where(monitors.c.name == name)).first()
        if exists is not None and not replace_existing:
            raise ConflictError(
                f"monitor {name!r} exists; pick another --name, or replace it with --replace"
            )
        if stream is not None:
            from loopml.data.versions import DatasetClient

            DatasetClient(self.settings).list_versions(stream)  # NotFoundError when unknown
            if reference is None:
                raise InvalidInputError(
                    f"a monitor on the table stream {deployment} needs its reference: "
                    "--reference datasets:/NAME/VERSION (or a Parquet or CSV file)"
                )
        evaluation = None if model is None or version is None else self._evaluation(model, version)
        if config.target is None and evaluation is not None:
            config = replace(config, target=evaluation.get("target"))
        if config.task is None and evaluation is not None:
            config = replace(config, task=evaluation.get("task"))
        if reference is None and model is not None and version is not None:
            reference = training_data(self.store, model, version)
        assert reference is not None  # a stream without one was refused above
        uri = reference
        table = load_reference(uri, self.settings)
        references, config = sketch_reference(
            table, config, model, version, predict_reference, self.settings
        )
        if schema is not None:
            references.schema = window_schema(schema, config.features)
        stored = self.artifact_store.put_bytes(references.to_bytes())
        actor, at = current_actor(), now_ms()
        values = {
            "name": name,
            "deployment": deployment if stream is None else None,
            "source": None if stream is None else stream_uri(stream),
            "reference": uri,
            "reference_digest": stored.digest,
            "model": model,
            "version": version,
            "config": config.to_dict(),
            "updated_at": at,
        }

        def work(conn: Connection) -> Monitor:
            old = conn.execute(select(monitors).where(monitors.c.name == name)).mappings().first()
            if old is not None and not replace_existing:
                raise ConflictError(f"monitor {name!r} exists; replace it with --replace")
            if old is None:
                conn.execute(
                    insert(monitors).values(**values, revision=1, created_at=at, created_by=actor)
                )
            else:
                conn.execute(
                    update(monitors)
                    .where(monitors.c.name == name)
                    .values(**values, revision=old["revision"] + 1)
                )
            conn.execute(
                delete(artifact_files).where(
                    artifact_files.c.owner_kind == REFERENCE_OWNER,
                    artifact_files.c.owner_id == name,
                )
            )
            conn.execute(
                insert(artifact_files).values(
                    owner_kind=REFERENCE_OWNER,
                    owner_id=name,
                    path="reference.json",
                    digest=stored.digest,
                    size=stored.size,
                    created_at=at,
                )
            )
            kind = "monitor.created" if old is None else "monitor.updated"
            monitor = monitor_of(conn, name)
            details = {"deployment": deployment, "reference": uri, "window": config.window}
            audit(
                conn,
                action=kind,
                object_kind="monitor",
                object_id=name,
                details=details,
                actor=actor,
            )
            _events.emit(conn, kind, name, monitor.to_dict(), actor=actor)
            add_edges(
                conn,
                [(("monitor", name), "consumed", node, None) for node in reference_nodes(uri)],
            )
            return monitor

        monitor = self.store.transact(work)
        self._references[stored.digest] = references
        _events.dispatcher_for(self.store).wake()
        return monitor

    def rebase(
        self, name: str, *, reference: str | None = None, reason: str | None = None
    ) -> Monitor:
        """Give a deployment's monitor a new reference, keeping its options and history.

        After a new version takes over a deployment, its training data is what "normal"
        means: by default the reference becomes the served version's training data
        (found through lineage, as :meth:`create` does), sketched anew. The windows and
        alerts computed so far stay; the next windows are measured against the new
        reference.

        Raises:
            InvalidInputError: the monitor watches a table stream (give ``reference``),
                or no reference can be found.
        """
        monitor = self.get(name)
        config = monitor.config
        if monitor.deployment is None:
            if reference is None:
                raise InvalidInputError(
                    f"monitor {name!r} watches {monitor.source}; rebase it with a reference: "
                    "datasets:/NAME/VERSION"
                )
            target = monitor.source or ""
        else:
            target = monitor.deployment
        rebased = self.create(
            target,
            name=name,
            reference=reference,
            window=config.window,
            features=config.features,
            target=config.target,
            task=config.task,
            prediction=config.prediction,
            probability=config.probability,
            method=config.method,
            thresholds=config.thresholds or None,
            correction=config.correction,
            alpha=config.alpha,
            share_threshold=config.share_threshold,
            rules=config.rules,
            replace_existing=True,
        )
        if reason is not None:
            self.store.transact(
                lambda conn: audit(
                    conn,
                    action="monitor.rebased",
                    object_kind="monitor",
                    object_id=name,
                    reason=reason,
                    details={"reference": rebased.reference, "version": rebased.version},
                )
            )
        return rebased

    def get(self, name: str) -> Monitor:
        """The monitor called ``name``.

        Raises:
            NotFoundError: no such monitor (listing those there are).
        """
        with self.store.read() as conn:
            return monitor_of(conn, name)

    def list_monitors(
        self, *, deployment: str | None = None, limit: int = 100, page_token: str | None = None
    ) -> Page[Monitor]:
        """Monitors by name, a page at a time (``deployment`` narrows to one deployment)."""
        check_limit(limit)
        query = select(monitors.c.name).order_by(monitors.c.name)
        if deployment is not None:
            query = query.where(monitors.c.deployment == deployment)
        if page_token is not None:
            (after,) = decode_page_token(page_token, 1)
            query = query.where(monitors.c.name > str(after))
        with self.store.read() as conn:
            names = conn.execute(query.limit(limit + 1)).scalars().all()
            items = [monitor_of(conn, n) for n in names[:limit]]
        token = encode_page_token([items[-1].name]) if len(names) > limit else None
        return Page(items=items, next_page_token=token)

    def update(
        self,
        name: str,
        *,
        rules: Sequence[str | AlertRule] | None = None,
        window: str | None = None,
        thresholds: Mapping[str, float] | None = None,
        share_threshold: float | None = None,
        reason: str | None = None,
    ) -> Monitor:
        """Change a monitor's rules, window or thresholds (one transaction, audited).

        A changed window takes effect from the next window; computed windows stay.
        """
        monitor = self.get(name)
        config = monitor.config
        if rules is not None:
            config = replace(config, rules=check_rules(rules))
        if window is not None:
            parse_window(window)
            config = replace(config, window=window)
        if thresholds is not None:
            config = replace(config, thresholds=check_thresholds(thresholds))
        if share_threshold is not None:
            config = replace(config, share_threshold=check_share(share_threshold))
        actor = current_actor()

        def work(conn: Connection) -> Monitor:
            changed = conn.execute(
                update(monitors)
                .where(monitors.c.name == name, monitors.c.revision == monitor.revision)
                .values(config=config.to_dict(), revision=monitor.revision + 1, updated_at=now_ms())
            ).rowcount
            if changed != 1:
                raise ConflictError(f"monitor {name!r} changed meanwhile; try again")
            audit(
                conn,
                action="monitor.updated",
                object_kind="monitor",
                object_id=name,
                reason=reason,
                details={"config": config.to_dict()},
                actor=actor,
            )
            updated = monitor_of(conn, name)
            _events.emit(conn, "monitor.updated", name, updated.to_dict(), actor=actor)
            return updated

        updated = self.store.transact(work)
        _events.dispatcher_for(self.store).wake()
        return updated

    def delete(self, name: str, *, reason: str | None = None) -> Monitor:
        """Forget a monitor, its windows and alerts (audited; its events stay)."""
        actor = current_actor()

        def work(conn: Connection) -> Monitor:
            monitor = monitor_of(conn, name)
            for table in (monitor_windows, monitor_alerts):
                conn.execute(delete(table).where(table.c.monitor == name))
            conn.execute(
                delete(artifact_files).where(
                    artifact_files.c.owner_kind == REFERENCE_OWNER,
                    artifact_files.c.owner_id == name,
                )
            )
            conn.execute(delete(monitors).where(monitors.c.name == name))
            audit(
                conn,
                action="monitor.deleted",
                object_kind="monitor",
                object_id=name,
                reason=reason,
                actor=actor,
            )
            _events.emit(conn, "monitor.deleted", name, {"name": name}, actor=actor)
            return monitor

        monitor = self.store.transact(work)
        _events.dispatcher_for(self.store).wake()
        return monitor

    def references(self, name_or_monitor: str | Monitor) -> References:
        """A monitor's stored reference sketches (read once per process, verified)."""
        monitor = self.get(name_or_monitor) if isinstance(name_or_monitor, str) else name_or_monitor
        found = self._references.get(monitor.reference_digest)
        if found is None:
            data = self.artifact_store.get_bytes(monitor.reference_digest)
            found = References.from_bytes(data, f"of monitor {monitor.name!r}")
            self._references[monitor.reference_digest] = found
        return found

    # -- windows -----------------------------------------------------------------------

    def run(
        self, name: str, *, until: Moment | None = None, max_windows: int = MAX_WINDOWS
    ) -> list[MonitorWindow]:
        """Compute, store and judge every window of ``name`` that is due by ``until``.

        Time windows are ``[k * size, (k + 1) * size)`` in Unix ms, from the first logged
        prediction (or the last computed window) up to ``until`` (default: now); a window
        still open is not computed. Count windows take the next ``N`` answered rows. When
        more than ``max_windows`` are due, only the latest ones are computed.

        Returns:
            The new windows, oldest first (empty when none is due).
        """
        monitor = self.get(name)
        if isinstance(max_windows, bool) or not isinstance(max_windows, int) or max_windows < 1:
            raise InvalidInputError(f"max_windows must be an integer >= 1, got {max_windows!r}")
        if monitor.source is not None:
            return self._run_stream(monitor, max_windows)
        assert monitor.deployment is not None
        end = now_ms() if until is None else to_ms(until, name="until")
        kind, size = parse_window(monitor.config.window)
        with self.store.read() as conn:
            last_end = conn.execute(
                select(func.max(monitor_windows.c.end_ms)).where(monitor_windows.c.monitor == name)
            ).scalar()
        self._evaluations.clear()  # evaluations stored since the last run count
        self.refresh_labels(name)
        spans = self._due(monitor, kind, size, last_end, end, max_windows)
        if not spans:
            return []
        frame = read_predictions(
            monitor.deployment,
            spans[0][0],
            spans[-1][1],
            settings=self.settings,
            artifact_store=self.artifact_store,
            with_labels=True,
        )
        references = self.references(monitor)
        times = frame["time_ms"].to_numpy() if len(frame) else None

        def measured() -> Iterator[tuple[int, int, Measured]]:
            for start, stop in spans:
                part = frame if times is None else frame[(times >= start) & (times < stop)]
                yield start, stop, self._measure(monitor, references, part)

        return self._store_all(monitor, measured())

    def _run_stream(self, monitor: Monitor, max_windows: int) -> list[MonitorWindow]:
        """A table stream's due windows: each dataset version not measured yet is one."""
        from loopml.data.versions import DatasetClient

        assert monitor.source is not None
        dataset = _stream_source(monitor.source)
        assert dataset is not None
        w = monitor_windows.c
        with self.store.read() as conn:
            last = conn.execute(
                select(w.versions).where(w.monitor == monitor.name).order_by(w.id.desc()).limit(1)
            ).scalar()
        done = max((int(v["version"]) for v in last or ()), default=0)
        datasets = DatasetClient(self.settings)
        due = [v for v in datasets.list_versions(dataset) if v.version > done][-max_windows:]
        references = self.references(monitor)

        def measured() -> Iterator[tuple[int, int, Measured]]:
            for found in due:
                table = datasets.load(found.uri, as_arrow=True)
                if isinstance(table, Path):
                    raise InvalidInputError(f"{found.uri} is a folder of files, not a table")
                frame = stream_rows(table, dataset, found.version, found.created_at, monitor.config)
                result = self._measure(monitor, references, frame)
                rows = {"dataset": dataset, "version": found.version, "rows": result.rows}
                yield found.created_at, found.created_at + 1, replace(result, versions=(rows,))

        return self._store_all(monitor, measured())

    def _store_all(
        self, monitor: Monitor, windows: Iterator[tuple[int, int, Measured]]
    ) -> list[MonitorWindow]:
        """Store each measured window in turn (measured lazily: when another runner is
        ahead, the rest is neither measured nor stored here), then wake the webhooks."""
        history = recent_verdicts(self.store, monitor)
        created: list[MonitorWindow] = []
        for start, stop, measured in windows:
            stored = self._store_window(monitor, start, stop, measured, history)
            if stored is None:  # another runner is ahead: it computes the rest
                break
            created.append(stored)
        _events.dispatcher_for(self.store).wake()
        return created

    def refresh_labels(self, name: str, *, windows: int = 48) -> list[MonitorWindow]:
        """Measure the realized performance of ``name``'s latest ``windows`` windows again
        when labels arrived after they were computed (delayed labels), and advance the
        performance rules' alerts on the new figures. :meth:`run` calls it first.

        Returns:
            The windows whose performance changed, oldest first.
        """
        monitor = self.get(name)
        if isinstance(windows, bool) or not isinstance(windows, int) or windows < 1:
            raise InvalidInputError(f"windows must be an integer >= 1, got {windows!r}")
        if monitor.deployment is None:  # a table stream brings its labels with its rows
            return []
        with self.store.read() as conn:
            newest_label = conn.execute(
                select(func.max(feedback.c.time_ms)).where(
                    feedback.c.deployment == monitor.deployment
                )
            ).scalar()
        if newest_label is None:
            return []
        recent = list(reversed(self.windows(name, limit=windows).items))
        stale = [w for w in recent if w.results.get("labels_as_of", w.created_at) <= newest_label]
        if not stale:
            return []
        frame = read_predictions(
            monitor.deployment, min(w.start_ms for w in stale), max(w.end_ms for w in stale),
            settings=self.settings, artifact_store=self.artifact_store, with_labels=True,
        )  # fmt: skip
        times = frame["time_ms"].to_numpy() if len(frame) else None
        config, at = monitor.config, now_ms()
        updated: dict[int, dict[str, Any]] = {}  # window id -> its new results
        changed: list[MonitorWindow] = []
        for window in stale:
            part = frame if times is None else frame[(times >= window.start_ms)
                                                     & (times < window.end_ms)]  # fmt: skip
            old = window.results.get("performance")
            baseline = None if not old else old.get("baseline")
            performance = measure_performance(part, config, baseline)
            results = {**window.results, "performance": performance, "labels_as_of": at}
            if performance != old:
                verdicts = dict(results.get("rules") or {})
                for rule in config.rules:
                    if rule.kind == "performance":
                        verdicts[rule.name] = judge(
                            rule, results, share_threshold=config.share_threshold
                        )
                results["rules"] = verdicts
                changed.append(replace(window, results=results))
            updated[window.id] = results
        history = recent_verdicts(self.store, monitor)
        for entry in history:  # the verdicts as they are about to be stored
            if entry["window"] in updated:
                entry["rules"] = dict(updated[entry["window"]].get("rules") or {})
        latest = history[-1]["window"] if history else None

        def work(conn: Connection) -> None:
            for wid, body in updated.items():
                conn.execute(
                    update(monitor_windows).where(monitor_windows.c.id == wid).values(results=body)
                )
            if changed and latest is not None:
                for rule in config.rules:
                    if rule.kind == "performance":
                        advance(conn, monitor, rule, int(latest), history)

        self.store.transact(work)
        if changed:
            _events.dispatcher_for(self.store).wake()
        return changed

    def measure(self, name: str, frame: pd.DataFrame) -> Measured:
        """Measure rows given directly (payload-log shaped) against ``name``'s reference,
        without storing anything: for notebooks, tests and backfills."""
        monitor = self.get(name)
        return self._measure(monitor, self.references(monitor), frame)

    def windows(
        self,
        name: str,
        *,
        since: Moment | None = None,
        until: Moment | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[MonitorWindow]:
        """``name``'s windows that end in ``[since, until)``, newest first, a page at a time."""
        self.get(name)
        check_limit(limit)
        w = monitor_windows.c
        query = select(monitor_windows).where(w.monitor == name)
        if since is not None:
            query = query.where(w.end_ms > to_ms(since, name="since"))
        if until is not None:
            query = query.where(w.end_ms <= to_ms(until, name="until"))
        if page_token is not None:
            query = query.where(w.id < _id_before(page_token))
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(w.id.desc()).limit(limit + 1)).mappings().all()
        items = [window_of(row) for row in rows[:limit]]
        token = encode_page_token([items[-1].id]) if len(rows) > limit else None
        return Page(items=items, next_page_token=token)

    def window(self, window_id: int) -> MonitorWindow:
        """One window by id.

        Raises:
            NotFoundError: no such window.
        """
        with self.store.read() as conn:
            row = (
                conn.execute(select(monitor_windows).where(monitor_windows.c.id == window_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(
                "monitor window",
                str(window_id),
                hint="list them with `loopml monitor windows NAME`",
            )
        return window_of(row)

    # -- alerts and events -------------------------------------------------------------

    def alerts(
        self,
        name: str | None = None,
        *,
        state: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Alert]:
        """Alerts, newest first (``name``: one monitor's; ``state``: firing or resolved)."""
        check_limit(limit)
        if state not in (None, "firing", "resolved"):
            raise InvalidInputError(f"state must be firing or resolved, got {state!r}")
        a = monitor_alerts.c
        query = select(monitor_alerts)
        if name is not None:
            self.get(name)
            query = query.where(a.monitor == name)
        if state is not None:
            query = query.where(a.state == state)
        if page_token is not None:
            query = query.where(a.id < _id_before(page_token))
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(a.id.desc()).limit(limit + 1)).mappings().all()
        items = [alert_of(row) for row in rows[:limit]]
        token = encode_page_token([items[-1].id]) if len(rows) > limit else None
        return Page(items=items, next_page_token=token)

    def ack(self, alert_id: int, *, reason: str | None = None) -> Alert:
        """Acknowledge an alert: it keeps its state; the acknowledgement is an event.

        Raises:
            NotFoundError: no such alert.
        """
        actor = current_actor()

        def work(conn: Connection) -> Alert:
            found = find_alert(conn, alert_id)
            conn.execute(
                update(monitor_alerts)
                .where(monitor_alerts.c.id == found.id)
                .values(acked_at=now_ms(), acked_by=actor, ack_reason=reason)
            )
            acked = find_alert(conn, alert_id)
            audit(
                conn,
                action="alert.acked",
                object_kind="alert",
                object_id=str(found.id),
                reason=reason,
                actor=actor,
            )
            _events.emit(conn, "alert.acked", found.monitor, acked.to_dict(), actor=actor)
            return acked

        acked = self.store.transact(work)
        _events.dispatcher_for(self.store).wake()
        return acked

    def events(
        self,
        after: int = 0,
        *,
        limit: int = 100,
        monitor: str | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[MonitorEvent]:
        """Monitoring events after the cursor ``after``, oldest first (module
        :mod:`loopml.monitoring.events`)."""
        with self.store.read() as conn:
            return _events.list_events(conn, after=after, limit=limit, monitor=monitor, kinds=kinds)

    def status(self, name: str) -> dict[str, Any]:
        """The monitor at a glance: what it watches, its last window, firing alerts."""
        monitor = self.get(name)
        latest = self.windows(name, limit=1).items
        firing = self.alerts(name, state="firing", limit=1000).items
        window = latest[0] if latest else None
        summary: dict[str, Any] = {
            "monitor": monitor.name,
            "deployment": monitor.deployment,
            "model": monitor.model,
            "version": monitor.version,
            "reference": monitor.reference,
            "window": monitor.config.window,
            "last_window": None,
            "firing": [alert.to_dict() for alert in firing],
            "rules": [rule.name for rule in monitor.config.rules],
        }
        if window is not None:
            summary["last_window"] = window.summary()
        return summary

    def add_webhook(
        self,
        url: str,
        events: Iterable[str] = (),
        monitor: str | None = None,
        secret: str | None = None,
    ) -> Webhook:
        """POST monitoring events from now on to ``url`` (in order, at least once, signed
        with ``secret`` when given: ``X-Loopml-Signature: sha256=<HMAC-SHA256>``).

        Args:
            url: an ``http://`` or ``https://`` URL.
            events: the kinds to deliver (empty: all; see :mod:`loopml.monitoring.events`).
            monitor: only this monitor's events.
            secret: signs each body.
        """
        actor = current_actor()
        kinds = _events.check_kinds(events)
        webhooks.check_url(url)

        def work(conn: Connection) -> Webhook:
            if monitor is not None:
                monitor_of(conn, monitor)
            hook = webhooks.add(conn, _events.FEED, url, kinds=kinds, scope=monitor,
                                secret=secret, actor=actor)  # fmt: skip
            details = {"url": hook.url, "events": list(hook.events), "monitor": monitor}
            audit(conn, action="webhook.added", object_kind="webhook", object_id=hook.id,
                  details=details, actor=actor)  # fmt: skip
            return hook

        hook = self.store.transact(work)
        _events.dispatcher_for(self.store).webhooks_changed()
        return hook

    def list_webhooks(self) -> list[Webhook]:
        """Every monitoring webhook with its cursor, failures and last error."""
        with self.store.read() as conn:
            return webhooks.list_all(conn, _events.FEED)

    def remove_webhook(self, webhook_id: str) -> Webhook:
        """Stop delivering to a webhook and forget it.

        Raises:
            NotFoundError: no such webhook (listing those there are).
        """
        actor = current_actor()

        def work(conn: Connection) -> Webhook:
            hook = webhooks.remove(conn, _events.FEED, webhook_id)
            audit(conn, action="webhook.removed", object_kind="webhook", object_id=hook.id,
                  details={"url": hook.url}, actor=actor)  # fmt: skip
            return hook

        hook = self.store.transact(work)
        _events.dispatcher_for(self.store).webhooks_changed()
        return hook

    def gauges(self, *, deployments: Iterable[str] | None = None) -> str:
        """Every monitor's latest figures and alert states as Prometheus gauges (text
        format 0.0.4); ``deployments`` narrows to the monitors of those deployments."""
        return gauges_text(self.store, deployments)

    def deliver_pending(self, timeout: float = 10.0) -> bool:
        """Deliver pending monitoring webhooks now, waiting at most ``timeout`` seconds."""
        return _events.dispatcher_for(self.store).deliver_pending(timeout)

    # -- internals ---------------------------------------------------------------------

    def _evaluation(self, model: str, version: int) -> dict[str, Any] | None:
        key = (model, version)
        if key not in self._evaluations:
            from loopml.registry.client import RegistryClient

            found = RegistryClient(self.settings).list_evaluations(model, version)
            self._evaluations[key] = found[0] if found else None
        return self._evaluations[key]

    def _due(
        self,
        monitor: Monitor,
        kind: str,
        size: int,
        last_end: int | None,
        end: int,
        max_windows: int,
    ) -> list[tuple[int, int]]:
        assert monitor.deployment is not None
        if kind == "time":
            start = last_end
            if start is None:
                segments = query_segments(self.store, monitor.deployment, None, end)
                if not segments:
                    return []
                first = min(segment.start_ms for segment in segments)
                start = first // size * size
            count = max(0, (end - start) // size)
            skip = max(0, count - max_windows)
            return [
                (start + (skip + i) * size, start + (skip + i + 1) * size)
                for i in range(count - skip)
            ]
        frame = read_predictions(
            monitor.deployment,
            last_end,
            end,
            settings=self.settings,
            artifact_store=self.artifact_store,
            role="primary",
        )
        if not len(frame):
            return []
        answered = frame[frame["status"] == 200]["time_ms"].to_numpy()
        spans: list[tuple[int, int]] = []
        begin = int(last_end) if last_end is not None else int(frame["time_ms"].iloc[0])
        index = size - 1
        while index < len(answered):
            stop = int(answered[index]) + 1
            spans.append((begin, stop))
            begin = stop
            index = int((answered < stop).sum()) + size - 1
        return spans[-max_windows:]

    def _measure(self, monitor: Monitor, references: References, frame: pd.DataFrame) -> Measured:
        baseline = None
        if len(frame):
            primary = frame[frame["role"] == "primary"]
            if len(primary) and monitor.deployment is not None:
                top: Any = primary.groupby(["model", "version"]).size().idxmax()
                evaluation = self._evaluation(str(top[0]), int(top[1]))
                baseline = None if evaluation is None else evaluation.get("metrics")
        return measure_window(
            frame,
            references.inputs,
            monitor.config,
            baseline=baseline,
            outputs=references.outputs,
            schema=references.schema,
        )

    def _store_window(
        self,
        monitor: Monitor,
        start: int,
        stop: int,
        measured: Measured,
        history: list[dict[str, Any]],
    ) -> MonitorWindow | None:
        """Store a measured window, judge its rules, advance their alerts, in one
        transaction; ``None`` when another runner stored a window there first."""
        config = monitor.config
        verdicts = {
            rule.name: judge(rule, measured.results, share_threshold=config.share_threshold)
            for rule in config.rules
        }
        at = now_ms()
        results = {**measured.results, "rules": verdicts, "labels_as_of": at}

        def work(conn: Connection) -> MonitorWindow | None:
            w = monitor_windows.c
            taken = conn.execute(
                select(w.id).where(w.monitor == monitor.name, w.end_ms > start).limit(1)
            ).first()
            if taken is not None:
                return None
            window_id = conn.execute(
                insert(monitor_windows).values(
                    monitor=monitor.name,
                    start_ms=start,
                    end_ms=stop,
                    rows=measured.rows,
                    requests=measured.requests,
                    versions=list(measured.versions),
                    drift_share=measured.drift_share,
                    dataset_drifted=measured.dataset_drifted,
                    results=results,
                    created_at=at,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            node = ("monitor_window", str(window_id))
            edges: list[Any] = []
            if monitor.deployment is not None:
                edges.append((node, "evaluated_on", ("deployment", monitor.deployment), None))
            for v in measured.versions:  # model versions, or a stream's dataset version
                kind = "dataset_version" if "dataset" in v else "model_version"
                owner = v.get("dataset", v.get("model"))
                edges.append((node, "evaluated_on", (kind, f"{owner}/{v['version']}"), None))
            edges += [(node, "consumed", ref, None) for ref in reference_nodes(monitor.reference)]
            add_edges(conn, edges)
            entry = {"window": int(window_id), "start_ms": start, "end_ms": stop,
                     "rules": verdicts}  # fmt: skip
            history.append(entry)
            try:
                for rule in config.rules:
                    advance(conn, monitor, rule, int(window_id), history)
            except BaseException:
                history.remove(entry)
                raise
            return window_of(
                conn.execute(select(monitor_windows).where(monitor_windows.c.id == window_id))
                .mappings()
                .one()
            )

        try:
            return self.store.transact(work)
        except IntegrityError:  # another runner inserted this window at the same moment
            return None


def stream_uri(dataset: str) -> str:
    """How a table stream is written: ``datasets:/NAME@latest`` (it follows new versions)."""
    return dataset_uri(dataset)


def _stream_source(target: str) -> str | None:
    """The dataset name of a table stream (``datasets:/NAME``), ``None`` for a deployment."""
    if not is_uri(target, "datasets"):
        return None
    dataset = strip_scheme(target, "datasets").removesuffix("@latest")
    if not dataset or "/" in dataset or "@" in dataset:
        raise InvalidInputError(
            f"a table stream is a dataset, not one version: give datasets:/NAME (each new "
            f"version is a window), not {target!r}"
        )
    return dataset


def _id_before(page_token: str) -> int:
    """The row id a windows or alerts page token carries (a whole number in SQL's range)."""
    (before,) = decode_page_token(page_token, 1)
    if isinstance(before, bool) or not isinstance(before, int) or not 0 < before < 2**63:
        raise InvalidInputError(
            f"page_token {page_token!r} is not a token this listing returned; "
            "pass the next_page_token of the previous page, or none for the first page"
        )
    return before
