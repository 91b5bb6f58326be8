"""The orchestrator: walks a traced graph, reuses cached steps, runs the rest on an executor.

One loop in the calling process decides everything: which nodes are ready, which hit
the cache, which are skipped (an upstream failure, a false condition), and records
every decision in the metadata store. Workers only run functions and store outputs.
A node's upstream failure stops it and its dependents, while independent branches go
on to the end; the run then ends ``failed`` and :class:`PipelineFailedError` names the
failed steps.

Example:
    >>> run = train_pipeline.run({"alpha": 0.1})  # doctest: +SKIP
    >>> run.status, run.load("train")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.clock import now_ms
from loopml.pipelines import records
from loopml.pipelines._canonical import canonical_json, digest_of, is_json_value
from loopml.pipelines._task import StepResult, StepTask, execute_step, load_ref, store_value
from loopml.pipelines._task import use_client as _share_client
from loopml.pipelines.cache import cache_key, explain_difference, key_parts
from loopml.pipelines.executors.base import Executor
from loopml.pipelines.graph import (
    DatasetInput,
    ElementInput,
    GatherInput,
    Graph,
    InputSpec,
    MapInput,
    Node,
    OutputInput,
    ValueInput,
)
from loopml.pipelines.models import OutputRef, PipelineRunInfo, StepEvent, StepStatus
from loopml.pipelines.pipeline_run import PipelineRun
from loopml.tracking.client import TrackingClient
from loopml.tracking.models import Run, RunStatus

__all__ = ["EventHandler", "Runner"]

EventHandler = Callable[[StepEvent], None]
MAX_PARAM_CHARS = 500


@dataclass
class _Prepared:
    resolved: dict[str, Any] = field(default_factory=dict)
    digests: dict[str, Any] = field(default_factory=dict)
    consumed: list[OutputRef] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)


class Runner:
    """Runs one traced graph once; see the module docstring."""

    def __init__(
        self,
        graph: Graph,
        *,
        client: TrackingClient,
        executor: Executor,
        params: dict[str, Any],
        cache: bool = True,
        experiment: str | None = None,
        entrypoint: str | None = None,
        run_name: str | None = None,
        resume_from: PipelineRunInfo | None = None,
        on_event: EventHandler | None = None,
        tags: Mapping[str, str] | None = None,
        dataset_versions: Mapping[str, int] | None = None,
    ) -> None:
        self.graph = graph
        self.client = client
        self.executor = executor
        self.params = params
        self.cache = cache
        self.experiment = experiment or graph.pipeline
        self.entrypoint = entrypoint
        self.run_name = run_name
        self.resume_from = resume_from
        self.on_event = on_event
        self.tags = dict(tags or {})
        self.dataset_versions = dict(dataset_versions or {})
        self.artifact_store = client.run_artifacts.artifact_store
        self.status: dict[str, StepStatus] = {}
        self.reasons: dict[str, str] = {}
        self.outputs: dict[str, dict[str, OutputRef]] = {}
        self.children: dict[str, list[str]] = {}
        self.order: dict[str, float] = {}  # creation order: ready nodes start in it
        self.waiting: dict[str, set[str]] = {}  # node -> upstream nodes still running
        self.dependents: dict[str, set[str]] = {}  # node -> nodes waiting for it
        self.ready: list[str] = []
        self.in_flight: dict[Future[StepResult], tuple[str, Run, _Prepared]] = {}
        self.datasets: dict[DatasetInput, tuple[str, str]] = {}
        self._element_digests: dict[tuple[str, str], list[str | None]] = {}
        self.run: Run | None = None
        self._scratch: Path = client.settings.home / "cache" / "tmp"

    # -- the whole run -------------------------------------------------------------------

    def execute(self) -> PipelineRun:
        self.client.store.transact(records.reconcile)
        self._resolve_datasets()
        self._start()
        assert self.run is not None
        _share_client(self.client)
        status = RunStatus.FAILED
        try:
            self._loop()
            failed = any(s is StepStatus.FAILED for s in self.status.values())
            status = RunStatus.FAILED if failed else RunStatus.FINISHED
        except KeyboardInterrupt:
            status = RunStatus.KILLED
            self._abandon("interrupted (Ctrl-C)")
            raise
        finally:
            self.client.end_run(self.run.id, status)
        with self.client.store.read() as conn:
            info = records.get_pipeline_run(conn, self.run.id)
        return PipelineRun(info, self.client)

    def _start(self) -> None:
        nodes = [(node.id, node.step.options.name) for node in self.graph.nodes.values()]
        spec = self.graph.describe()
        tracked = _tracked_params(self.params)

        def write(conn: Any, run: Run) -> None:
            records.insert_pipeline_run(
                conn,
                run.id,
                pipeline=self.graph.pipeline,
                entrypoint=self.entrypoint,
                params=self.params,
                spec=spec,
                executor=self.executor.url,
                cache=self.cache,
                resumed_from=self.resume_from.id if self.resume_from else None,
                nodes=nodes,
            )

        self.run = self.client.create_run(
            self.experiment,
            name=self.run_name,
            tags={
                **self.tags,
                "loopml.pipeline": self.graph.pipeline,
                "loopml.run_kind": "pipeline",
            },
            params=tracked,
            on_write=write,
        )
        for node_id, _ in nodes:
            self.status[node_id] = StepStatus.PENDING
        for node_id, _ in nodes:
            self._wait_for(node_id, self.graph.nodes[node_id].upstream)
        self._emit_all()

    def _loop(self) -> None:
        while True:
            while self.ready:
                batch = sorted(self.ready, key=self.order.__getitem__)
                self.ready.clear()
                for node_id in batch:
                    self._schedule(self.graph.nodes[node_id])
            if not self.in_flight:
                break
            done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
            for future in [f for f in self.in_flight if f in done]:  # in submission order
                self._finish(future)

    def _wait_for(self, node_id: str, upstream: set[str] | list[str]) -> None:
        """Make ``node_id`` ready once every node of ``upstream`` has ended."""
        self.order.setdefault(node_id, len(self.order))
        open_ = {u for u in upstream if not self.status[u].terminal}
        self.waiting[node_id] = open_
        for u in open_:
            self.dependents.setdefault(u, set()).add(node_id)
        if not open_:
            self.ready.append(node_id)

    def _ended(self, node_id: str) -> None:
        for dependent in self.dependents.pop(node_id, ()):
            waiting = self.waiting[dependent]
            waiting.discard(node_id)
            if not waiting:
                self.ready.append(dependent)

    # -- one node ------------------------------------------------------------------------

    def _schedule(self, node: Node) -> None:
        blocker = self._blocker(node)
        if blocker is not None:
            self._skip(node.id, blocker)
            return
        if node.is_template:
            self._schedule_template(node)
            return
        unmet = self._unmet_condition(node)
        if unmet is not None:
            self._skip(node.id, unmet)
            return
        prepared = self._prepare(node)
        parts = key_parts(node.step, node.params, prepared.digests)
        key = cache_key(parts)
        hit = self._reusable(node, key)
        if hit is not None:
            run_id, outputs, reason = hit
            self._cached(node, key, parts, run_id, outputs, reason)
            return
        reason = self._miss_reason(node, parts)
        self._submit(node, prepared, key, parts, reason)

    def _blocker(self, node: Node) -> str | None:
        for upstream in sorted(node.upstream):
            status = self.status[upstream]
            if not status.done:
                why = next(iter(self.reasons.get(upstream, "").strip().splitlines()), "")
                what = {
                    StepStatus.FAILED: "failed",
                    StepStatus.SKIPPED: "was skipped",
                    StepStatus.KILLED: "was killed",
                }.get(status, status.value)
                return f"upstream step '{upstream}' {what}" + (f" ({why})" if why else "")
        return None

    def _unmet_condition(self, node: Node) -> str | None:
        for condition in node.conditions:
            ref = self.outputs[condition.node][condition.output]
            value = load_ref(ref, self.artifact_store)
            if bool(value) is not condition.expected:
                return f"condition {condition.node}.{condition.output} is {bool(value)}"
        return None

    def _schedule_template(self, node: Node) -> None:
        if node.id in self.children:
            # Expanded earlier; every child is now finished.
            children = self.children[node.id]
            bad = [c for c in children if not self.status[c].done]
            if bad:
                self._skip(node.id, f"mapped step '{bad[0]}' {self.status[bad[0]].value}")
            else:
                self._set(node.id, StepStatus.COMPLETED, None)
                self.client.store.transact(
                    lambda conn: records.mark_status(
                        conn,
                        self._run_id,
                        node.id,
                        f"mapped over {len(children)} item(s)",
                        StepStatus.COMPLETED,
                    )
                )
            return
        unmet = self._unmet_condition(node)
        if unmet is not None:
            self._skip(node.id, unmet)
            return
        self._expand(node)

    def _expand(self, node: Node) -> None:
        lengths: dict[str, int] = {}
        sources: dict[str, tuple[str, str] | list[str]] = {}
        for name in node.mapped:
            spec = node.inputs[name]
            if isinstance(spec, MapInput):
                items = self.children[spec.template]
                sources[name] = items
                lengths[name] = len(items)
            else:
                assert isinstance(spec, OutputInput)
                value = load_ref(self.outputs[spec.node][spec.output], self.artifact_store)
                if not isinstance(value, list):
                    self._fail_now(
                        node.id,
                        f"{node.id}.map() needs a list from {spec.node}.{spec.output}, got "
                        f"{type(value).__name__}",
                    )
                    return
                sources[name] = (spec.node, spec.output)
                lengths[name] = len(value)
                self._element_digests[(spec.node, spec.output)] = [
                    digest_of(item) if is_json_value(item) else None for item in value
                ]
        if len(set(lengths.values())) > 1:
            self._fail_now(node.id, f"{node.id}.map() got lists of different lengths {lengths}")
            return
        count = next(iter(lengths.values()), 0)
        children = []
        for index in range(count):
            inputs: dict[str, InputSpec] = dict(node.inputs)
            for name, source in sources.items():
                if isinstance(source, list):
                    inputs[name] = OutputInput(source[index], "output")
                else:
                    inputs[name] = ElementInput(source[0], source[1], index)
            child = Node(f"{node.id}[{index}]", node.step, node.params, inputs, template=node.id)
            self.graph.nodes[child.id] = child
            children.append(child.id)
            self.status[child.id] = StepStatus.PENDING
            self.order[child.id] = self.order[node.id] + (index + 1) / (count + 1)
        self.children[node.id] = children
        self.client.store.transact(
            lambda conn: records.add_nodes(
                conn, self._run_id, [(c, node.step.options.name) for c in children]
            )
        )
        for child_id in children:
            self._wait_for(child_id, self.graph.nodes[child_id].upstream)
        self._wait_for(node.id, children)  # the map ends when its items do
        self._emit_all()

    def _prepare(self, node: Node) -> _Prepared:
        prepared = _Prepared()
        for name, spec in node.inputs.items():
            resolved, digest = self._resolve(spec, node, name, prepared)
            prepared.resolved[name] = resolved
            prepared.digests[name] = digest
        return prepared

    def _resolve(
        self, spec: InputSpec, node: Node, name: str, prepared: _Prepared
    ) -> tuple[tuple[Any, ...], Any]:
        if isinstance(spec, OutputInput):
            ref = self.outputs[spec.node][spec.output]
            prepared.consumed.append(ref)
            return ("ref", ref), ref.digest
        if isinstance(spec, ElementInput):
            ref = self.outputs[spec.node][spec.output]
            prepared.consumed.append(ref)
            # Each item's own digest, so a longer list keeps the items it shares cached.
            known = self._element_digests.get((spec.node, spec.output), [])
            digest = known[spec.index] if spec.index < len(known) else None
            return ("element", ref, spec.index), digest or f"{ref.digest}[{spec.index}]"
        if isinstance(spec, GatherInput | MapInput):
            items: tuple[InputSpec, ...]
            if isinstance(spec, MapInput):
                items = tuple(OutputInput(c, "output") for c in self.children[spec.template])
            else:
                items = spec.items
            pairs = [self._resolve(item, node, name, prepared) for item in items]
            return ("list", [p[0] for p in pairs]), [p[1] for p in pairs]
        if isinstance(spec, DatasetInput):
            uri, digest = self.datasets[spec]
            prepared.datasets.append(uri)
            return ("dataset", uri), digest
        assert isinstance(spec, ValueInput)
        self._scratch.mkdir(parents=True, exist_ok=True)
        ref = store_value(
            spec.value,
            self.artifact_store,
            self._scratch,
            step=node.id,
            output=name,
            allow_pickle=node.step.options.allow_pickle,
        )
        return ("ref", ref), ref.digest

    def _reusable(self, node: Node, key: str) -> tuple[str, dict[str, OutputRef], str] | None:
        prior = self.resume_from.steps.get(node.id) if self.resume_from else None
        prior_run = self.resume_from.id if self.resume_from else ""
        if (
            prior is not None
            and prior.status.done
            and prior.cache_key == key
            and self._outputs_exist(prior.outputs)
        ):
            source = prior.cached_from or prior.run_id or ""
            return source, prior.outputs, f"reused from run {prior_run} (resume)"
        if not (self.cache and node.step.options.cache):
            return None
        with self.client.store.read() as conn:
            candidates = records.find_cached(conn, key)
        for run_id, body in candidates:
            outputs = {k: OutputRef.from_json(v) for k, v in body.items()}
            if self._outputs_exist(outputs):
                return run_id, outputs, f"same cache key as step run {run_id}"
            self.reasons[node.id] = f"outputs of step run {run_id} are gone"
        return None

    def _miss_reason(self, node: Node, parts: dict[str, Any]) -> str:
        prior = self.resume_from.steps.get(node.id) if self.resume_from else None
        if prior is not None and prior.key_parts is not None and self.resume_from is not None:
            changes = explain_difference(parts, prior.key_parts)
            if changes:
                return f"changed since run {self.resume_from.id}: " + "; ".join(changes[:3])
            if not prior.status.done:
                return f"it was {prior.status.value} in run {self.resume_from.id}"
        if not self.cache:
            return "cache disabled for this run (--no-cache)"
        if not node.step.options.cache:
            return "cache disabled for this step (cache=False)"
        return self.reasons.pop(node.id, "no earlier run with this cache key")

    def _outputs_exist(self, outputs: dict[str, OutputRef]) -> bool:
        return all(
            ref.is_inline or self.artifact_store.exists(ref.digest) for ref in outputs.values()
        )

    def _cached(
        self,
        node: Node,
        key: str,
        parts: dict[str, Any],
        run_id: str,
        outputs: dict[str, OutputRef],
        reason: str,
    ) -> None:
        self.client.store.transact(
            lambda conn: records.mark_cached(
                conn,
                self._run_id,
                node.id,
                cache_key=key,
                key_parts=parts,
                cached_from=run_id,
                outputs=outputs,
                reason=reason,
            )
        )
        self.outputs[node.id] = outputs
        self._set(node.id, StepStatus.CACHED, reason)

    def _submit(
        self, node: Node, prepared: _Prepared, key: str, parts: dict[str, Any], reason: str
    ) -> None:
        tracked = _tracked_params(node.params)

        def write(conn: Any, run: Run) -> None:
            records.mark_running(
                conn,
                self._run_id,
                node.id,
                run_id=run.id,
                cache_key=key,
                key_parts=parts,
                reason=reason,
            )

        run = self.client.create_run(
            self.experiment,
            name=node.id,
            tags={
                "loopml.pipeline_run": self._run_id,
                "loopml.step": node.step.options.name,
                "loopml.run_kind": "step",
            },
            parent_run_id=self._run_id,
            params=tracked,
            on_write=write,
            capture_environment=False,
        )
        task = StepTask(
            settings=self.client.settings,
            run=run,
            node=node.id,
            fn=node.step.fn,
            options=node.step.options,
            params=node.params,
            inputs=prepared.resolved,
        )
        self._set(node.id, StepStatus.RUNNING, reason)
        try:
            future = self.executor.submit(execute_step, task)
        except Exception as err:  # the executor refused the task (e.g. it cannot pickle it)
            future = Future()
            future.set_exception(err)
        self.in_flight[future] = (node.id, run, prepared)

    def _finish(self, future: Future[StepResult]) -> None:
        node_id, run, prepared = self.in_flight.pop(future)
        try:
            result = future.result()
        except BaseException as err:  # the executor failed, not the step
            import traceback

            result = StepResult(
                ok=False,
                attempts=1,
                error=f"{type(err).__name__}: {err}",
                traceback="".join(traceback.format_exception(err)),
                started_at=now_ms(),
                ended_at=now_ms(),
            )
        outputs = {k: OutputRef.from_json(v) for k, v in result.outputs.items()}

        def write(conn: Any) -> None:
            records.mark_finished(
                conn,
                self._run_id,
                node_id,
                run_id=run.id,
                ok=result.ok,
                attempts=result.attempts,
                started_at=result.started_at,
                ended_at=result.ended_at,
                outputs=outputs,
                consumed=prepared.consumed,
                datasets=prepared.datasets,
                error=result.error,
                traceback=result.traceback,
            )

        status = RunStatus.FINISHED if result.ok else RunStatus.FAILED
        self.client.end_run(run.id, status, on_write=write)
        if result.ok:
            self.outputs[node_id] = outputs
            self._set(node_id, StepStatus.COMPLETED, None, result.ended_at - result.started_at)
        else:
            self._set(node_id, StepStatus.FAILED, result.error, result.ended_at - result.started_at)

    # -- bookkeeping ---------------------------------------------------------------------

    @property
    def _run_id(self) -> str:
        assert self.run is not None
        return self.run.id

    def _skip(self, node_id: str, reason: str) -> None:
        self.client.store.transact(
            lambda conn: records.mark_status(conn, self._run_id, node_id, reason)
        )
        self._set(node_id, StepStatus.SKIPPED, reason)

    def _fail_now(self, node_id: str, reason: str) -> None:
        self.client.store.transact(
            lambda conn: records.mark_status(conn, self._run_id, node_id, reason, StepStatus.FAILED)
        )
        self._set(node_id, StepStatus.FAILED, reason)

    def _abandon(self, reason: str) -> None:
        for node_id, run, _ in list(self.in_flight.values()):
            with contextlib.suppress(Exception):  # best effort while being interrupted
                self.client.end_run(run.id, RunStatus.KILLED)
            self.status[node_id] = StepStatus.KILLED
        self.in_flight.clear()
        self.client.store.transact(lambda conn: records.reconcile(conn))

    def _set(
        self, node_id: str, status: StepStatus, reason: str | None, duration: int | None = None
    ) -> None:
        self.status[node_id] = status
        if reason:
            self.reasons[node_id] = reason
        if status.terminal:
            self._ended(node_id)
        if self.on_event is not None:
            self.on_event(StepEvent(self._run_id, node_id, status, duration, reason))

    def _emit_all(self) -> None:
        if self.on_event is None:
            return
        nodes = tuple(self.graph.nodes)
        for node_id in nodes:
            if self.status.get(node_id) is StepStatus.PENDING:
                self.on_event(StepEvent(self._run_id, node_id, StepStatus.PENDING, nodes=nodes))

    def _resolve_datasets(self) -> None:
        wanted = {
            spec
            for node in self.graph.nodes.values()
            for spec in _flatten(node.inputs.values())
            if isinstance(spec, DatasetInput)
        }
        if not wanted:
            return
        from loopml.data import DatasetClient

        datasets = DatasetClient(self.client.settings)
        for spec in wanted:
            pinned = self.dataset_versions.get(spec.name) if spec.version is None else None
            version = datasets.get(spec.name, pinned if pinned is not None else spec.version)
            self.datasets[spec] = (version.uri, version.digest)


def _tracked_params(values: dict[str, Any]) -> dict[str, str]:
    """The JSON values as run params: strings as they are, others as JSON; long ones left out."""
    texts = {
        k: (v if isinstance(v, str) else canonical_json(v).decode())
        for k, v in values.items()
        if is_json_value(v)
    }
    return {k: v for k, v in texts.items() if len(v) <= MAX_PARAM_CHARS}


def _flatten(specs: Any) -> list[InputSpec]:
    out: list[InputSpec] = []
    for spec in specs:
        if isinstance(spec, GatherInput):
            out += _flatten(spec.items)
        else:
            out.append(spec)
    return out
