"""Alert rules: written as one line, judged on each window, fired and resolved with patience.

A rule is a condition on a window's results and two durations. It *breaches* on a window
when the condition holds there; it fires after ``for`` breaching windows in a row and
resolves after ``clear`` windows in a row that are clear of it. With ``clear at V`` the
value must get past ``V`` (not merely back over the threshold) to count as clear
(hysteresis), so a figure hovering at the threshold does not flap. A window without what
a rule needs (no labels yet, no requests) neither breaches nor clears it: it is skipped.

==========================================  =============================================
rule                                        breaches when
==========================================  =============================================
``drift``                                   the dataset drifted: the (weighted) share of
                                            drifted features reached the monitor's share
``drift:age``                               feature ``age`` drifted (``drift:*``: any)
``prediction_drift`` / ``…:OUTPUT``         an output drifted from the reference's
``accuracy < 0.8``                          a realized metric is below 0.8 (``rmse > 3``)
``f1 < baseline - 0.05``                    more than 0.05 below the version's evaluation
``error_rate > 0.01``                       more than 1 % of requests failed
``latency_p95 > 50``                        the p95 model latency is above 50 ms
``missing > 0.1`` / ``missing:age > 0.1``   a feature's missing share is above 10 %
==========================================  =============================================

Trailing words set the rest: ``for 3`` (default 2), ``clear 2`` (default 2),
``clear at 0.85``, ``severity critical`` (default ``warning``), ``as NAME`` (default: the
rule's text).

Example:
    >>> rule = parse_rule("accuracy < 0.8 for 3 clear at 0.85 severity critical")
    >>> rule.kind, rule.target, rule.value, rule.for_windows, rule.clear_value
    ('performance', 'accuracy', 0.8, 3, 0.85)
    >>> judge(rule, {"performance": {"metrics": {"accuracy": 0.7}}})["breached"]
    True
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from loopml.errors import InvalidInputError
from loopml.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from loopml.monitoring.models import AlertRule

__all__ = [
    "DEFAULT_RULES",
    "MAX_DURATION",
    "Step",
    "check_rules",
    "judge",
    "next_step",
    "parse_rule",
]

DEFAULT_RULES = ("drift for 2 clear 2", "error_rate > 0.05 for 2 clear 2")
"""The rules a monitor gets when it is created without any."""
MAX_DURATION = 1000
"""The longest ``for`` or ``clear`` duration, in windows."""

Step = Literal["fire", "resolve"]
_METRICS = frozenset(CLASSIFICATION_METRICS) | frozenset(REGRESSION_METRICS)
_PERCENTILES = ("p50", "p95", "p99")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_TRAILER = re.compile(
    rf"\s+(?:for\s+(?P<for>\d+)|clear\s+at\s+(?P<clear_at>{_NUMBER})|clear\s+(?P<clear>\d+)"
    r"|severity\s+(?P<severity>\w+)|as\s+(?P<name>\S+))\s*$",
    re.IGNORECASE,
)
_CONDITION = re.compile(
    rf"(?P<subject>[A-Za-z_][\w.]*(?::\S+)?)\s*(?:(?P<op>[<>])\s*"
    rf"(?P<rhs>baseline\s*[-+]\s*{_NUMBER}|baseline|{_NUMBER}))?",
    re.IGNORECASE,
)
_HELP = (
    "write a rule like 'drift', 'drift:age', 'prediction_drift', 'accuracy < 0.8', "
    "'f1 < baseline - 0.05', 'error_rate > 0.01', 'latency_p95 > 50' or 'missing > 0.1', "
    "optionally followed by 'for N', 'clear N', 'clear at V', 'severity critical', 'as NAME'"
)


def parse_rule(text: str, *, severity: str = "warning") -> AlertRule:
    """The :class:`AlertRule` a line of text describes (grammar in the module docstring).

    Raises:
        InvalidInputError: the text is not a rule; the message shows the forms accepted.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > 500:
        raise InvalidInputError(f"alert rule {text!r} is empty or too long; {_HELP}")
    body = " " + text.strip()
    options: dict[str, str] = {}
    while (match := _TRAILER.search(body)) is not None:
        found = {key: value for key, value in match.groupdict().items() if value is not None}
        key = next(iter(found))
        if key in options:
            raise InvalidInputError(f"alert rule {text!r} sets {key!r} twice; {_HELP}")
        options[key] = found[key]
        body = body[: match.start()]
    condition = _CONDITION.fullmatch(body.strip())
    if condition is None:
        raise InvalidInputError(f"alert rule {text!r} is not understood; {_HELP}")
    rule = _condition(text, condition["subject"], condition["op"], condition["rhs"])
    level = options.get("severity", severity).lower()
    if level not in ("warning", "critical"):
        raise InvalidInputError(
            f"alert rule {text!r}: severity {level!r} is not warning or critical"
        )
    for_windows = _duration(options.get("for", "2"), "for", text)
    clear_windows = _duration(options.get("clear", "2"), "clear", text)
    clear_value = None if "clear_at" not in options else float(options["clear_at"])
    if clear_value is not None and rule.value is not None:
        wrong_side = clear_value > rule.value if rule.op == ">" else clear_value < rule.value
        if wrong_side:
            raise InvalidInputError(
                f"alert rule {text!r}: 'clear at {clear_value:g}' must be on the good side of "
                f"the threshold {rule.value:g} (hysteresis), e.g. "
                f"'clear at {rule.value * (0.9 if rule.op == '>' else 1.1):g}'"
            )
    return AlertRule(
        name=options.get("name", " ".join(text.split())),
        kind=rule.kind,
        target=rule.target,
        op=rule.op,
        value=rule.value,
        baseline_margin=rule.baseline_margin,
        for_windows=for_windows,
        clear_windows=clear_windows,
        clear_value=clear_value,
        severity=level,
        text=" ".join(text.split()),
    )


def check_rules(rules: Sequence[str | AlertRule]) -> tuple[AlertRule, ...]:
    """Parsed rules, with names unique within one monitor.

    Raises:
        InvalidInputError: a rule is not understood, or two rules share a name.
    """
    parsed = tuple(rule if isinstance(rule, AlertRule) else parse_rule(rule) for rule in rules)
    names = [rule.name for rule in parsed]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidInputError(
            f"alert rules {twice} are given twice; name one of them apart with 'as NAME'"
        )
    return parsed


def judge(
    rule: AlertRule, results: Mapping[str, Any], *, share_threshold: float = 0.5
) -> dict[str, Any]:
    """``rule``'s verdict on one window's results.

    Returns ``{"breached", "clear", "value", "threshold", "reason"}``: ``breached`` and
    ``clear`` are ``None`` when the window lacks what the rule needs (``reason`` says
    what).
    """
    value, threshold, reason = _measure(rule, results, share_threshold)
    if value is None:
        return {
            "breached": None,
            "clear": None,
            "value": None,
            "threshold": threshold,
            "reason": reason,
        }
    if rule.kind in ("drift", "feature_drift", "prediction_drift"):
        breached = bool(value) if rule.kind != "drift" else reason == "drifted"
        clear = not breached
        if rule.kind == "drift" and rule.clear_value is not None:
            clear = value < rule.clear_value
    else:
        assert threshold is not None
        breached = value > threshold if rule.op == ">" else value < threshold
        clear = not breached
        if rule.clear_value is not None:
            clear = value < rule.clear_value if rule.op == ">" else value > rule.clear_value
    return {
        "breached": breached,
        "clear": clear,
        "value": value,
        "threshold": threshold,
        "reason": reason,
    }


def next_step(
    rule: AlertRule, verdicts: Sequence[Mapping[str, Any]], *, firing: bool
) -> Step | None:
    """What the newest verdicts (oldest first) ask of ``rule``'s alert, if anything.

    Not firing: ``fire`` when the last ``for_windows`` judged windows all breached.
    Firing: ``resolve`` when the last ``clear_windows`` judged windows were all clear.
    Windows the rule could not judge (``breached`` is ``None``) are skipped.

    Example:
        >>> rule = parse_rule("error_rate > 0.1 for 2")
        >>> next_step(rule, [{"breached": True}, {"breached": True}], firing=False)
        'fire'
    """
    judged = [v for v in verdicts if v.get("breached") is not None]
    if not firing:
        recent = judged[-rule.for_windows :]
        if len(recent) == rule.for_windows and all(v["breached"] for v in recent):
            return "fire"
        return None
    recent = judged[-rule.clear_windows :]
    if len(recent) == rule.clear_windows and all(v.get("clear") for v in recent):
        return "resolve"
    return None


class _Condition:
    __slots__ = ("baseline_margin", "kind", "op", "target", "value")

    def __init__(
        self,
        kind: str,
        target: str | None,
        op: str,
        value: float | None,
        baseline_margin: float | None = None,
    ) -> None:
        self.kind, self.target, self.op = kind, target, op
        self.value, self.baseline_margin = value, baseline_margin


def _condition(text: str, subject: str, op: str | None, rhs: str | None) -> _Condition:
    head, _, target = subject.partition(":")
    head = head.lower()
    target_or_any = None if target in ("", "*") else target
    if head in ("drift", "feature_drift", "prediction_drift"):
        if op is not None:
            raise InvalidInputError(
                f"alert rule {text!r}: drift rules take no threshold (the drift test and "
                "the monitor's share decide); write 'drift', 'drift:FEATURE' or "
                "'prediction_drift'"
            )
        if head == "drift" and not target:
            return _Condition("drift", None, ">", None)
        kind = "prediction_drift" if head == "prediction_drift" else "feature_drift"
        return _Condition(kind, target_or_any, ">", None)
    known = head in ("error_rate", "missing") or head.startswith("latency_") or head in _METRICS
    if not known:
        raise InvalidInputError(
            f"alert rule {text!r}: {subject!r} is not something a monitor measures; "
            f"metrics are {sorted(_METRICS)}; {_HELP}"
        )
    if op is None or rhs is None:
        raise InvalidInputError(
            f"alert rule {text!r} needs a comparison, like '{head} > 0.1'; {_HELP}"
        )
    if head == "error_rate" or head == "missing" or head.startswith("latency_"):
        if "baseline" in rhs.lower():
            raise InvalidInputError(
                f"alert rule {text!r}: only performance metrics compare with the baseline"
            )
        if head.startswith("latency_"):
            percentile = head.removeprefix("latency_")
            if percentile not in _PERCENTILES or target:
                raise InvalidInputError(
                    f"alert rule {text!r}: latency rules are latency_p50, latency_p95 or "
                    "latency_p99, e.g. 'latency_p95 > 50' (milliseconds)"
                )
            return _Condition("latency", percentile, op, _finite(rhs, text))
        kind = "error_rate" if head == "error_rate" else "missing"
        if kind == "error_rate" and target:
            raise InvalidInputError(f"alert rule {text!r}: error_rate takes no ':TARGET'")
        return _Condition(kind, target_or_any, op, _finite(rhs, text))
    if head in _METRICS and not target:
        rhs_text = rhs.replace(" ", "").lower()
        if rhs_text.startswith("baseline"):
            margin = float(rhs_text.removeprefix("baseline") or 0)
            worse = margin if op == ">" else -margin
            if worse < 0:
                raise InvalidInputError(
                    f"alert rule {text!r}: the margin points the wrong way; write "
                    f"'{head} {op} baseline {'+' if op == '>' else '-'} {abs(margin):g}'"
                )
            return _Condition("performance", head, op, None, abs(margin))
        return _Condition("performance", head, op, _finite(rhs, text))
    raise InvalidInputError(
        f"alert rule {text!r}: {subject!r} is not something a monitor measures; "
        f"metrics are {sorted(_METRICS)}; {_HELP}"
    )


def _finite(text: str, rule: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInputError(f"alert rule {rule!r}: the threshold must be a finite number")
    return value


def _duration(text: str, what: str, rule: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_DURATION:
        raise InvalidInputError(
            f"alert rule {rule!r}: '{what} {value}' must count 1 to {MAX_DURATION} windows"
        )
    return value


def _measure(
    rule: AlertRule, results: Mapping[str, Any], share_threshold: float
) -> tuple[float | None, float | None, str]:
    if rule.kind == "drift":
        drift = results.get("drift")
        if not drift:
            return None, share_threshold, "no rows in the window"
        share = float(drift["drift_share"])
        limit = float(drift.get("share_threshold", share_threshold))
        return share, limit, "drifted" if drift.get("dataset_drifted") else "stable"
    if rule.kind in ("feature_drift", "prediction_drift", "missing"):
        key = "prediction_drift" if rule.kind == "prediction_drift" else "drift"
        drift = results.get(key)
        if not drift:
            return None, rule.value, f"no {key.replace('_', ' ')} in the window"
        columns = [c for c in drift["columns"] if rule.target is None or c["column"] == rule.target]
        if not columns:
            return None, rule.value, f"{rule.target!r} is not in the window"
        if rule.kind == "missing":
            worst = max(columns, key=lambda c: float(c.get("missing_share") or 0.0))
            return float(worst.get("missing_share") or 0.0), rule.value, worst["column"]
        drifted = [c["column"] for c in columns if c.get("drifted")]
        return float(len(drifted)), None, ", ".join(drifted) or "no drift"
    if rule.kind == "performance":
        performance = results.get("performance") or {}
        value = (performance.get("metrics") or {}).get(rule.target)
        if value is None:
            return None, rule.value, f"no {rule.target} yet (no labels in the window)"
        threshold = rule.value
        if rule.baseline_margin is not None:
            base = (performance.get("baseline") or {}).get(rule.target)
            if base is None:
                return None, None, f"the version has no stored evaluation of {rule.target}"
            margin = rule.baseline_margin
            threshold = float(base) - margin if rule.op == "<" else float(base) + margin
        return float(value), threshold, f"{rule.target} {float(value):.4g}"
    health = results.get("health") or {}
    if rule.kind == "error_rate":
        rate = health.get("error_rate")
        if rate is None:
            return None, rule.value, "no requests in the window"
        return float(rate), rule.value, f"error rate {float(rate):.2%}"
    latency = (health.get("latency_ms") or {}).get(rule.target)
    if latency is None:
        return None, rule.value, "no requests in the window"
    return float(latency), rule.value, f"{rule.target} latency {float(latency):.3g} ms"
