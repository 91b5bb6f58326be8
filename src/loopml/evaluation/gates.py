"""Validation gates: what an evaluation must show, written as short expressions.

Grammar (spaces are free; ``<op>`` is one of ``>=``, ``>``, ``<=``, ``<``, ``==``)::

    <metric> <op> <number>                       accuracy >= 0.9          (absolute)
    <metric> <op> champion [+|-|* <number>]      f1 >= champion - 0.01    (change vs champion)
    gap(<metric>, by=<column>) <op> <number>     gap(recall, by=sex) <= 0.05   (slice gap)
    latency_ms_per_row <= 5, package_size_mb <= 50                        (budgets)
    infra                                        loads and predicts in a fresh process

A gate on a runtime metric (:data:`BUDGET_METRICS`) is a budget; ``gap`` is the largest
difference of a metric between the groups of a slice column (a fairness check).
``str(parse_gate(text))`` is the gate's canonical spelling and parses back to the same gate.

Example:
    >>> gate = parse_gate("f1>=champion-0.01")
    >>> gate, str(gate)
    (ChangeGate(metric='f1', op='>=', change='-', amount=0.01), 'f1 >= champion - 0.01')
    >>> context = GateContext(metrics={"f1": 0.9}, champion={"f1": 0.92})
    >>> gate.evaluate(context).reason
    'f1 0.9 < 0.91 (champion 0.92 - 0.01)'
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from loopml.errors import InvalidInputError, close_matches
from loopml.evaluation.models import GateResult, InfraResult, SliceMetrics
from loopml.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    RUNTIME_METRICS,
    check_task,
    known_metrics,
)

__all__ = [
    "BUDGET_METRICS",
    "GRAMMAR",
    "OPS",
    "ChangeGate",
    "GapGate",
    "Gate",
    "GateContext",
    "InfraGate",
    "MetricGate",
    "check_gates",
    "check_policy_gates",
    "evaluate_gates",
    "format_number",
    "parse_gate",
    "parse_gates",
]

OPS = (">=", ">", "<=", "<", "==")
CHANGES = ("+", "-", "*")
BUDGET_METRICS = ("latency_ms_per_row", "package_size_mb", "package_size_bytes")
GRAMMAR = """a gate is one of:
  <metric> <op> <number>                     accuracy >= 0.9
  <metric> <op> champion [+|-|* <number>]    f1 >= champion - 0.01
  gap(<metric>, by=<column>) <op> <number>   gap(recall, by=sex) <= 0.05
  latency_ms_per_row <= 5                    package_size_mb <= 50
  infra
where <op> is one of >=, >, <=, <, =="""

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
}
_NEGATED = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!="}


def format_number(value: float) -> str:
    """The shortest text that reads back as ``value`` (whole numbers without ``.0``).

    Example:
        >>> format_number(5.0), format_number(0.1), format_number(1e-7)
        ('5', '0.1', '1e-07')
    """
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _shown(value: float) -> str:
    """A measured value in a reason: six significant digits are plenty to read."""
    return f"{value:.6g}"


@dataclass(frozen=True, slots=True)
class GateContext:
    """What gates are judged against: one evaluation's measurements.

    Attributes:
        metrics: the candidate's metrics over the whole data.
        slices: the candidate's metrics per slice group.
        champion: the champion's metrics on the same data, or ``None``.
        no_champion: why there is no champion (the reason a change gate is skipped).
        infra: the fresh-process check, or ``None`` when it did not run.
        no_infra: why the check did not run.
        notes: why metrics were left out (quoted when a gate needs one of them).
    """

    metrics: Mapping[str, float]
    slices: SliceMetrics = field(default_factory=dict)
    champion: Mapping[str, float] | None = None
    no_champion: str = "no champion to compare with"
    infra: InfraResult | None = None
    no_infra: str = "the infra check did not run"
    notes: Sequence[str] = ()

    def missing(self, metric: str) -> str:
        """Why ``metric`` has no value, from the notes when one mentions it."""
        for note in self.notes:
            if metric in note and not note.startswith("slice "):
                return f"{metric} was not measured: {note}"
        return f"{metric} was not measured"


@dataclass(frozen=True, slots=True)
class MetricGate:
    """``<metric> <op> <number>``: an absolute threshold, or a budget on a runtime metric.

    Example:
        >>> MetricGate("accuracy", ">=", 0.9).evaluate(GateContext({"accuracy": 0.93})).passed
        True
    """

    metric: str
    op: str
    threshold: float

    @property
    def kind(self) -> str:
        return "budget" if self.metric in BUDGET_METRICS else "absolute"

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {format_number(self.threshold)}"

    def evaluate(self, context: GateContext) -> GateResult:
        observed = context.metrics.get(self.metric)
        if observed is None:
            return _result(self, False, context.missing(self.metric), threshold=self.threshold)
        passed = _COMPARE[self.op](observed, self.threshold)
        reason = f"{self.metric} {_shown(observed)} {_op(self.op, passed)} {_shown(self.threshold)}"
        return _result(self, passed, reason, observed, self.threshold)


@dataclass(frozen=True, slots=True)
class ChangeGate:
    """``<metric> <op> champion [+|-|* <amount>]``: compared with the champion's value.

    Skipped (not failed) when there is no champion, or the champion has no such value.

    Example:
        >>> gate = ChangeGate("rmse", "<=", "*", 1.05)
        >>> gate.evaluate(GateContext({"rmse": 10.0}, champion={"rmse": 10.0})).passed
        True
    """

    metric: str
    op: str
    change: str | None = None
    amount: float | None = None

    kind = "change"

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def __str__(self) -> str:
        text = f"{self.metric} {self.op} champion"
        if self.change is not None and self.amount is not None:
            text += f" {self.change} {format_number(self.amount)}"
        return text

    def threshold(self, champion: float) -> float:
        """The value the candidate is compared with, given the champion's."""
        if self.change is None or self.amount is None:
            return champion
        if self.change == "+":
            return champion + self.amount
        if self.change == "-":
            return champion - self.amount
        return champion * self.amount

    def evaluate(self, context: GateContext) -> GateResult:
        if context.champion is None:
            return _result(self, False, context.no_champion, skipped=True)
        base = context.champion.get(self.metric)
        if base is None:
            return _result(self, False, f"the champion has no {self.metric}", skipped=True)
        threshold = self.threshold(base)
        observed = context.metrics.get(self.metric)
        if observed is None:
            return _result(self, False, context.missing(self.metric), threshold=threshold)
        passed = _COMPARE[self.op](observed, threshold)
        how = f"champion {_shown(base)}"
        if self.change is not None and self.amount is not None:
            how += f" {self.change} {format_number(self.amount)}"
        reason = (
            f"{self.metric} {_shown(observed)} {_op(self.op, passed)} {_shown(threshold)} ({how})"
        )
        return _result(self, passed, reason, observed, threshold)


@dataclass(frozen=True, slots=True)
class GapGate:
    """``gap(<metric>, by=<column>) <op> <number>``: the largest minus the smallest value of
    a metric across the groups of a slice.

    Example:
        >>> slices = {"sex": {"F": {"recall": 0.6}, "M": {"recall": 0.9}}}
        >>> GapGate("recall", "sex", "<=", 0.05).evaluate(GateContext({}, slices)).reason
        'gap in recall across sex is 0.3 (lowest F 0.6, highest M 0.9) > 0.05'
    """

    metric: str
    by: str
    op: str
    threshold: float

    kind = "gap"

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def __str__(self) -> str:
        by = self.by if _NAME_RE.fullmatch(self.by) else f'"{self.by}"'
        return f"gap({self.metric}, by={by}) {self.op} {format_number(self.threshold)}"

    def evaluate(self, context: GateContext) -> GateResult:
        groups = context.slices.get(self.by)
        if groups is None:
            reason = f"no slice {self.by!r} was measured; add it to slices"
            return _result(self, False, reason, threshold=self.threshold)
        values = {label: m[self.metric] for label, m in groups.items() if self.metric in m}
        if not values:
            reason = f"{self.metric} was not measured in any group of {self.by}"
            return _result(self, False, reason, threshold=self.threshold)
        low = min(values, key=values.__getitem__)
        high = max(values, key=values.__getitem__)
        gap = values[high] - values[low]
        passed = _COMPARE[self.op](gap, self.threshold)
        reason = (
            f"gap in {self.metric} across {self.by} is {_shown(gap)} "
            f"(lowest {low} {_shown(values[low])}, highest {high} {_shown(values[high])}) "
            f"{_op(self.op, passed)} {_shown(self.threshold)}"
        )
        if len(values) == 1:
            reason = f"{self.by} has one group ({low}), so there is no gap: {reason}"
        return _result(self, passed, reason, gap, self.threshold)


@dataclass(frozen=True, slots=True)
class InfraGate:
    """``infra``: the package loads and predicts its input example in a fresh process.

    Example:
        >>> str(InfraGate())
        'infra'
    """

    kind = "infra"

    @property
    def metrics(self) -> tuple[str, ...]:
        return ()

    def __str__(self) -> str:
        return "infra"

    def evaluate(self, context: GateContext) -> GateResult:
        if context.infra is None:
            return _result(self, False, context.no_infra)
        return _result(self, context.infra.ok, context.infra.reason)


Gate = MetricGate | ChangeGate | GapGate | InfraGate

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME_RE = re.compile(_NAME)
_UNSIGNED = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_OP = r">=|<=|==|>|<"
_SIMPLE = re.compile(
    rf"\s*(?P<metric>{_NAME})\s*(?P<op>{_OP})\s*"
    rf"(?:(?P<champion>champion)(?:\s*(?P<change>[-+*])\s*(?P<amount>{_UNSIGNED}))?"
    rf"|(?P<number>[-+]?{_UNSIGNED}))\s*"
)
_GAP = re.compile(
    rf"\s*gap\s*\(\s*(?P<metric>{_NAME})\s*,\s*by\s*=\s*"
    rf"(?:(?P<by>{_NAME})|\"(?P<quoted>[^\"]+)\")\s*\)"
    rf"\s*(?P<op>{_OP})\s*(?P<number>[-+]?{_UNSIGNED})\s*"
)
_INFRA = re.compile(r"\s*infra\s*")


def parse_gate(spec: str | Gate) -> Gate:
    """The gate ``spec`` spells (a gate object is returned as it is).

    Raises:
        InvalidInputError: the text is not a gate; the message shows the grammar.

    Example:
        >>> parse_gate("gap(recall, by=sex) <= 0.05")
        GapGate(metric='recall', by='sex', op='<=', threshold=0.05)
        >>> parse_gate("infra")
        InfraGate()
    """
    if not isinstance(spec, str):
        if isinstance(spec, MetricGate | ChangeGate | GapGate | InfraGate):
            return spec
        raise InvalidInputError(f"a gate must be text or a gate object, got {spec!r}")
    if _INFRA.fullmatch(spec):
        return InfraGate()
    gap = _GAP.fullmatch(spec)
    if gap:
        by = gap["by"] or gap["quoted"]
        return GapGate(gap["metric"], by, gap["op"], _number(spec, gap["number"]))
    simple = _SIMPLE.fullmatch(spec)
    if simple is None:
        raise _syntax_error(spec)
    if simple["champion"]:
        amount = _number(spec, simple["amount"]) if simple["amount"] else None
        return ChangeGate(simple["metric"], simple["op"], simple["change"], amount)
    return MetricGate(simple["metric"], simple["op"], _number(spec, simple["number"]))


def parse_gates(specs: Iterable[str | Gate]) -> list[Gate]:
    """Every gate of ``specs``; the first malformed one raises."""
    return [parse_gate(spec) for spec in specs]


def check_gates(gates: Iterable[Gate], task: str | None) -> None:
    """Refuse gates naming metrics an evaluation of ``task`` does not compute.

    With ``task=None`` (a promotion policy, which does not know the task) a metric of
    either task is accepted.

    Raises:
        InvalidInputError: naming the gate, the unknown metric, close matches and the
            metrics this task computes.

    Example:
        >>> check_gates([parse_gate("acuracy >= 0.9")], "classification")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        loopml.errors.InvalidInputError: gate 'acuracy >= 0.9' names unknown metric 'acuracy'; \
did you mean accuracy? a classification evaluation computes: accuracy, precision, recall, ...
    """
    known: tuple[str, ...]
    per_group: tuple[str, ...]
    if task is None:
        known = CLASSIFICATION_METRICS + REGRESSION_METRICS + RUNTIME_METRICS
        per_group = CLASSIFICATION_METRICS + REGRESSION_METRICS
    else:
        known = known_metrics(task)
        per_group = (
            CLASSIFICATION_METRICS if check_task(task) == "classification" else REGRESSION_METRICS
        )
    evaluation = "an evaluation" if task is None else f"a {task} evaluation"
    for gate in gates:
        allowed = per_group if isinstance(gate, GapGate) else known
        for metric in gate.metrics:
            if metric in allowed:
                continue
            near = close_matches(metric, allowed)
            hint = f"; did you mean {' or '.join(near)}?" if near else ";"
            what = "per slice group" if isinstance(gate, GapGate) else "computes"
            if isinstance(gate, GapGate) and metric in RUNTIME_METRICS:
                hint = f"; {metric} is measured over the whole data only;"
            raise InvalidInputError(
                f"gate '{gate}' names unknown metric '{metric}'{hint} "
                f"{evaluation} {what}: {', '.join(allowed)}",
                details={"gate": str(gate), "metric": metric, "known": list(allowed)},
            )


def check_policy_gates(specs: Iterable[str | Gate]) -> None:
    """Refuse a promotion policy's gates that no evaluation could judge: malformed ones
    (with the grammar) and ones naming a metric no task computes (listing those known).

    The registry checks a policy with this when it is set (``RegistryClient(gate_check=…)``),
    so a typo fails then, not at promotion.

    Example:
        >>> check_policy_gates(["rmse <= 2", "f1 >= champion - 0.01", "infra"])
        >>> check_policy_gates(["acuracy >= 0.9"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        loopml.errors.InvalidInputError: gate 'acuracy >= 0.9' names unknown metric 'acuracy'; \
did you mean accuracy? an evaluation computes: accuracy, precision, recall, ...
    """
    check_gates(parse_gates(specs), None)


def evaluate_gates(specs: Sequence[str | Gate], context: GateContext) -> list[GateResult]:
    """Judge each gate against ``context``; each result keeps the gate's text as written."""
    results = []
    for spec in specs:
        gate = parse_gate(spec)
        result = gate.evaluate(context)
        expression = " ".join(spec.split()) if isinstance(spec, str) else str(gate)
        results.append(replace(result, expression=expression))
    return results


def _result(
    gate: Gate,
    passed: bool,
    reason: str,
    observed: float | None = None,
    threshold: float | None = None,
    *,
    skipped: bool = False,
) -> GateResult:
    return GateResult(str(gate), passed, skipped, reason, observed, threshold, gate.kind)


def _op(op: str, passed: bool) -> str:
    return op if passed else _NEGATED[op]


def _number(spec: str, text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInputError(f"gate {spec!r}: {text} is not a finite number")
    return value


_HINTS = (
    ("=>", "'=>' is not an operator; did you mean '>='?"),
    ("=<", "'=<' is not an operator; did you mean '<='?"),
    ("!=", "'!=' is not supported; use <, >, <=, >= or =="),
)


def _syntax_error(spec: str) -> InvalidInputError:
    hint = next((text for token, text in _HINTS if token in spec), "")
    if not hint and re.search(r"(?<![<>=!])=(?!=)", spec) and "by" not in spec:
        hint = "use == to compare for equality"
    if not spec.strip():
        hint = "the gate is empty"
    lead = f"invalid gate {spec!r}" + (f": {hint}" if hint else "")
    return InvalidInputError(f"{lead}\n{GRAMMAR}", details={"gate": spec, "grammar": GRAMMAR})
