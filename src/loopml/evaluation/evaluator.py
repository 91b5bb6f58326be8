"""``evaluate``: measure a model on a dataset, beside its champion, and judge the gates.

One call does the whole continuous-evaluation step of the loop:

1. parse the gates first (the model's policy gates by default), so a typo fails before
   anything loads;
2. load the data (a dataset version or a DataFrame) and the candidate;
3. predict, timed, and compute the task's metrics over the whole data and per slice;
4. find the champion (the version the ``champion`` alias points at, when it is another
   version of the same model) and measure it on the same data;
5. load the package in a fresh Python process (the infra check);
6. judge each gate, store the evaluation in the registry (which moves a registered
   version to ``validated`` or ``rejected`` and links the evaluation to the version and
   the dataset version), and return the result.

A failed gate does not raise: the result says which gates failed and why
(``result.passed``, ``result.reasons``). Promotion is what refuses a failed version.

Example:
    >>> result = evaluate("models:/churn/4", "datasets:/churn_holdout@latest", "churned",
    ...                   slices=["region"], gates=["f1 >= champion - 0.01",
    ...                   "gap(recall, by=region) <= 0.1", "infra"])  # doctest: +SKIP
    >>> result.passed, result.champion.version  # doctest: +SKIP
    (True, 3)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.evaluation._data import EvaluationData, check_target, load_data, target_values
from loopml.evaluation._measure import measure
from loopml.evaluation._task import check_predictions, infer_task
from loopml.evaluation.figures import Predicted, draw_sides
from loopml.evaluation.gates import (
    GapGate,
    Gate,
    GateContext,
    check_gates,
    evaluate_gates,
    parse_gate,
)
from loopml.evaluation.infra import DEFAULT_TIMEOUT_S, check_package
from loopml.evaluation.models import ChampionResult, EvaluationResult, SliceMetrics
from loopml.evaluation.slices import (
    Slice,
    SliceSpec,
    check_slice_columns,
    parse_slices,
    slice_metrics,
)
from loopml.metrics import Task, check_task, compute_metrics, resolve_classes
from loopml.packaging.flavors import flavor_for
from loopml.packaging.loading import LoadedModel, load_object
from loopml.registry.client import RegistryClient
from loopml.registry.loading import load_model, load_version
from loopml.registry.models import ModelVersion
from loopml.uris import is_uri
from loopml.uris import model_uri as _model_uri

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["evaluate"]


def evaluate(
    model_uri: str | os.PathLike[str] | Any,
    data: str | pd.DataFrame,
    target: str,
    *,
    task: str | None = None,
    slices: Sequence[SliceSpec] = (),
    gates: Sequence[str | Gate] | None = None,
    champion: str | None = "production",
    infra_check: bool = True,
    settings: Settings | None = None,
    move_status: bool = True,
    trusted: Sequence[str] = (),
    infra_timeout: float = DEFAULT_TIMEOUT_S,
) -> EvaluationResult:
    """Evaluate a model on a dataset: metrics, slices, champion comparison and gates.

    Args:
        model_uri: ``models:/name/3``, ``models:/name@alias``, ``runs:/<id>/model``, a
            package folder, or a fitted model object (anything :func:`loopml.log_model`
            accepts), which is evaluated without registry side effects: nothing is stored,
            no status moves, no lineage is written, and the result's ``id`` is ``""``.
        data: ``datasets:/name/3`` or ``datasets:/name@latest`` (a table version), or a
            pandas DataFrame.
        target: the label column of ``data``; every other column is passed to the model
            (a signature drops the columns the model does not take).
        task: ``"classification"`` or ``"regression"``; ``None`` infers it from the model
            (a scikit-learn classifier or regressor, ``predict_proba``) or else the labels
            (text or few whole numbers: classes; fractions or many values: regression),
            and a note says so.
        slices: columns (or ``{"name": ..., "where": "<pandas query>"}``) to measure per
            group; a ``gap(..., by=col)`` gate adds its column.
        gates: gate expressions (grammar in :mod:`loopml.evaluation.gates`) or gate
            objects; ``None`` uses the model's promotion-policy gates for a registered
            version and no gates otherwise; ``[]`` asks for none.
        champion: the alias of the version to compare with (or a ``models:/`` URI);
            ``None`` compares with nothing. A change gate is skipped without a champion.
            A model object or a run's package has no alias: only a ``models:/`` URI
            gives it a champion.
        infra_check: load and predict in a fresh Python process (what the ``infra`` gate
            judges; with ``False`` that gate fails, saying the check was turned off).
        settings: the store and artifacts; :meth:`Settings.load` by default.
        move_status: let a gated evaluation of a registered version move its status
            (``validated`` when every gate passed, else ``rejected``).
        trusted: types the model files may load (see :func:`loopml.load_model`).
        infra_timeout: seconds the fresh process may take.

    Returns:
        The stored evaluation; ``passed`` is ``None`` when no gate was asked for.

    Raises:
        InvalidInputError: a malformed gate (with the grammar), a gate on a metric the task
            does not compute (listing those it does), an unknown target or slice column,
            an unknown task or one the model or labels cannot fit (saying which task to
            pass), data that is not a table, a model object no flavor can package.
        NotFoundError: no such model, version, alias, run or dataset.

    Example:
        >>> result = evaluate("models:/churn/4", "datasets:/churn_holdout/2",  # doctest: +SKIP
        ...                   target="churned", gates=["accuracy >= 0.8"])
        >>> result.passed, result.reasons  # doctest: +SKIP
        (False, ['accuracy >= 0.8: accuracy 0.74 < 0.8'])
    """
    settings = settings or Settings.load()
    registry = RegistryClient(settings)
    is_object = not isinstance(model_uri, str | os.PathLike)
    uri = _object_name(model_uri) if is_object else os.fspath(model_uri)
    stated = None if task is None else check_task(task)
    plan = _Plan.make(registry, uri, stated, slices, gates)
    table = load_data(data, settings)
    check_target(table, target)
    check_slice_columns(table.frame, plan.slices)
    on = _Rows(table, table.frame.drop(columns=[target]), target_values(table.frame[target]))

    # The version was resolved once (an alias could move meanwhile): load that one.
    source = plan.version if plan.version is not None else model_uri
    with _candidate(source, on.features, settings, trusted) as candidate:
        settled, task_note = infer_task(stated, candidate, on.labels, target, uri)
        check_gates(plan.parsed, settled)
        plan = replace(plan, task=settled)
        mine = _Side.of(candidate, plan, on, uri)
        rival, no_champion = _champion(registry, plan.version, champion, is_object)
        theirs, champion_notes, their_side = None, list[str](), None
        if rival is not None:
            theirs, no_champion, champion_notes, their_side = _measure_champion(
                rival, champion, plan, on, settings, trusted
            )
        infra = None
        if infra_check:
            infra = check_package(candidate.folder, trusted=trusted, timeout=infra_timeout)
    context = GateContext(
        metrics=mine.metrics,
        slices=mine.slices,
        champion=theirs.metrics if theirs else None,
        no_champion=no_champion,
        infra=infra,
        no_infra="the infra check was turned off (infra_check=False); run with it on",
        notes=mine.notes,
    )
    results = evaluate_gates(plan.gates, context)
    notes = [task_note] if task_note else []
    notes += mine.notes + champion_notes + ([] if theirs or champion is None else [no_champion])
    notes += [f"infra: {note}" for note in (infra.notes if infra else ())]
    figures, figure_notes = draw_sides(
        plan.settled, on.labels, plan.version, mine, theirs, their_side
    )
    notes += figure_notes
    result = EvaluationResult(
        id="",
        model_uri=uri,
        model=plan.version.model if plan.version else None,
        version=plan.version.version if plan.version else None,
        data=table.label,
        target=target,
        task=plan.settled,
        metrics=mine.metrics,
        slices=mine.slices,
        champion=theirs,
        gates=results,
        passed=None if not results else not any(result.failed for result in results),
        infra=infra,
        notes=notes,
        figures=figures,
    )
    if is_object:
        return replace(result, notes=[*notes, _NOT_STORED])
    return _store(registry, result, move_status=move_status, dataset_node=table.node)


_NOT_STORED = "the model was given as an object: the evaluation was not stored in the registry"


def _object_name(model: Any) -> str:
    """How a model object is named in the result: ``<module.Class object>``."""
    if isinstance(model, LoadedModel):
        return f"<loaded model {model.uri}>"
    return f"<{type(model).__module__}.{type(model).__qualname__} object>"


@contextlib.contextmanager
def _candidate(
    model: Any, features: pd.DataFrame, settings: Settings, trusted: Sequence[str]
) -> Iterator[LoadedModel]:
    """The loaded candidate; a model object is packaged into a temporary folder (so the
    signature, size and infra check work as for a stored package) and removed after."""
    if isinstance(model, ModelVersion):  # resolved once, in the plan
        yield load_version(model, settings=settings, trusted=trusted)
        return
    if isinstance(model, str | os.PathLike):
        yield load_model(model, settings=settings, trusted=trusted)
        return
    if isinstance(model, LoadedModel):  # loopml.load_model's result: a package already
        yield model
        return
    try:
        flavor_for(model)
    except InvalidInputError as err:
        raise InvalidInputError(
            "the model to evaluate must be a model URI (models:/name/3, runs:/<id>/model), a "
            f"package folder or a fitted model object; {err.message}"
        ) from err
    # The columns a scikit-learn model was fitted on make the example (and signature),
    # so the data may carry other columns, as with a stored package.
    fitted = getattr(model, "feature_names_in_", None)
    columns = [str(c) for c in fitted] if fitted is not None else list(features.columns)
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise InvalidInputError(
            f"the model was fitted on columns the data lacks: {', '.join(missing)}; "
            f"the data has: {', '.join(map(str, features.columns))}"
        )
    example = features[columns].head(5)
    with tempfile.TemporaryDirectory(prefix="loopml-evaluate-") as folder:
        yield load_object(model, Path(folder) / "model", input_example=example)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What to measure and judge, settled before any data or model loads (the task, when
    not stated, once the model has loaded)."""

    task: Task | None
    version: ModelVersion | None
    gates: list[str | Gate]
    parsed: list[Gate]
    slices: list[Slice]

    @property
    def settled(self) -> Task:
        """The task, once stated or inferred (measuring needs it)."""
        assert self.task is not None, "the task is settled before anything is measured"
        return self.task

    @classmethod
    def make(
        cls,
        registry: RegistryClient,
        model_uri: str,
        task: Task | None,
        slices: Sequence[SliceSpec],
        gates: Sequence[str | Gate] | None,
    ) -> _Plan:
        version = registry.resolve(model_uri) if is_uri(model_uri, "models") else None
        specs = _gate_specs(registry, version, gates)
        parsed = [parse_gate(spec) for spec in specs]
        check_gates(parsed, task)  # a metric no task computes fails before anything loads
        return cls(task, version, specs, parsed, _with_gap_columns(parse_slices(slices), parsed))


@dataclass(frozen=True, slots=True)
class _Rows:
    """The evaluation data: the table, the model's input and the labels."""

    table: EvaluationData
    features: pd.DataFrame
    labels: NDArray[Any]


@dataclass(frozen=True, slots=True)
class _Side:
    """One model's numbers on the data: whole-data metrics, per-slice metrics, notes."""

    metrics: dict[str, float]
    slices: SliceMetrics
    notes: list[str]
    drawn: Predicted | None = None  # what the figures draw

    @classmethod
    def of(cls, model: LoadedModel, plan: _Plan, on: _Rows, name: str) -> _Side:
        task = plan.settled
        measured = measure(model, on.features, task, on.labels)
        y_true, predictions, proba = on.labels, measured.predictions, measured.proba
        check_predictions(task, predictions, name)
        classes = None
        if task == "classification":
            classes = resolve_classes(y_true, predictions, measured.classes)
        values, left_out = compute_metrics(task, y_true, predictions, proba, classes)
        per_group, group_notes = slice_metrics(
            task, on.table.frame, plan.slices, y_true, predictions, proba, classes
        )
        # A problem of the whole data (no predict_proba) is not repeated for every group.
        group_notes = [note for note in group_notes if note.split(": ", 1)[1] not in left_out]
        values.update(
            rows=float(len(y_true)),
            latency_ms_per_row=measured.latency_ms_per_row,
            package_size_bytes=float(measured.package_size_bytes),
            package_size_mb=measured.package_size_bytes / 1e6,
        )
        drawn = Predicted("candidate", predictions, proba, classes)
        return cls(values, per_group, measured.notes + left_out + group_notes, drawn)


def _gate_specs(
    registry: RegistryClient, version: ModelVersion | None, gates: Sequence[str | Gate] | None
) -> list[str | Gate]:
    if gates is not None:
        if isinstance(gates, str):  # one gate given bare: not a sequence of characters
            return [gates]
        return list(gates)
    if version is None:
        return []
    return list(registry.get_policy(version.model).gates)


def _with_gap_columns(slices: list[Slice], gates: Sequence[Gate]) -> list[Slice]:
    """The slices, plus a column slice for each gap gate's ``by`` not already sliced."""
    named = {piece.name for piece in slices}
    extra = []
    for gate in gates:
        if isinstance(gate, GapGate) and gate.by not in named:
            named.add(gate.by)
            extra.append(Slice.of(gate.by))
    return slices + extra


def _champion(
    registry: RegistryClient, version: ModelVersion | None, champion: str | None, is_object: bool
) -> tuple[ModelVersion | None, str]:
    """The champion version, or ``None`` and why there is none."""
    if champion is None:
        return None, "no champion: champion=None"
    if version is None and is_uri(champion, "models"):
        try:
            return registry.resolve(champion), ""
        except NotFoundError:
            return None, f"no champion: {champion} does not exist"
    if is_object:
        return None, (
            "no champion: the candidate is a model object, which has no alias to compare "
            "with; pass champion='models:/<name>@<alias>' (or a version URI)"
        )
    if version is None:
        return None, (
            "no champion: the candidate is not a registered version, so it has no alias "
            "to compare with (register it, then evaluate models:/<name>/<version>)"
        )
    uri = champion if is_uri(champion, "models") else _model_uri(version.model, alias=champion)
    try:
        found = registry.resolve(uri)
    except NotFoundError:
        return None, f"no champion: {uri} does not exist"
    if found.model == version.model and found.version == version.version:
        return None, f"no champion: {uri} is the candidate itself (version {version.version})"
    return found, ""


def _measure_champion(
    found: ModelVersion,
    champion: str | None,
    plan: _Plan,
    on: _Rows,
    settings: Settings,
    trusted: Sequence[str],
) -> tuple[ChampionResult | None, str, list[str], _Side | None]:
    """The champion measured on the same rows (notes, its side), or ``None`` and why not.

    A champion that cannot load or predict on this data (its signature wants a column the
    new data dropped, say) does not stop the candidate's evaluation: the comparison is
    skipped and the reason says why.
    """
    uri = (
        champion
        if champion is not None and is_uri(champion, "models")
        else _model_uri(found.model, alias=str(champion))
    )
    try:
        loaded = load_version(found, settings=settings, trusted=trusted)
        side = _Side.of(loaded, plan, on, found.uri)
    except Exception as err:
        why = f"{type(err).__name__}: {err}"
        return (
            None,
            f"no champion: {uri} (version {found.version}) could not be measured: {why}",
            [],
            None,
        )
    notes = [f"champion: {note}" for note in side.notes]
    return ChampionResult(uri, found.version, side.metrics, side.slices), "", notes, side


def _store(
    registry: RegistryClient,
    result: EvaluationResult,
    *,
    move_status: bool,
    dataset_node: tuple[str, str] | None,
) -> EvaluationResult:
    """Save ``result`` in the registry; the stored id and the version's new status."""
    record = {
        key: value
        for key, value in result.to_dict().items()
        if key
        in (
            "model_uri",
            "model",
            "version",
            "data",
            "target",
            "task",
            "metrics",
            "slices",
            "champion",
            "gates",
            "passed",
            "notes",
        )
    }
    saved = registry.record_evaluation(
        record, move_status=move_status, dataset_node=dataset_node, figures=result.figures
    )
    moved = move_status and result.passed is not None
    return replace(result, id=saved.id, status=saved.status if moved else None)
