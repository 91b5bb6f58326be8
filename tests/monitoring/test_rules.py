"""Alert rules: the one-line grammar, verdicts on a window's results, and the patience of
``for`` (fire) and ``clear`` / ``clear at`` (resolve, with hysteresis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import InvalidInputError
from loopml.monitoring.models import AlertRule
from loopml.monitoring.rules import check_rules, judge, next_step, parse_rule


@pytest.mark.parametrize(
    ("text", "kind", "target", "op", "value", "margin"),
    [
        ("drift", "drift", None, ">", None, None),
        ("drift:age", "feature_drift", "age", ">", None, None),
        ("drift:*", "feature_drift", None, ">", None, None),
        ("prediction_drift:predict", "prediction_drift", "predict", ">", None, None),
        ("accuracy < 0.8", "performance", "accuracy", "<", 0.8, None),
        ("rmse > 3.5", "performance", "rmse", ">", 3.5, None),
        ("f1 < baseline - 0.05", "performance", "f1", "<", None, 0.05),
        ("rmse > baseline + 1e-1", "performance", "rmse", ">", None, 0.1),
        ("error_rate > 0.01", "error_rate", None, ">", 0.01, None),
        ("latency_p99 > 250", "latency", "p99", ">", 250.0, None),
        ("missing:age > 0.1", "missing", "age", ">", 0.1, None),
        ("missing > 0.1", "missing", None, ">", 0.1, None),
    ],
)
def test_every_condition_parses(
    text: str, kind: str, target: str | None, op: str, value: float | None, margin: float | None
) -> None:
    rule = parse_rule(text)
    assert (rule.kind, rule.target, rule.op, rule.value, rule.baseline_margin) == (
        kind, target, op, value, margin,
    )  # fmt: skip
    assert (rule.for_windows, rule.clear_windows, rule.severity) == (2, 2, "warning")
    assert rule.name == text
    assert AlertRule.from_dict(rule.to_dict()) == rule


def test_trailing_options_in_any_order() -> None:
    rule = parse_rule("accuracy < 0.8 severity critical clear 3 for 4 clear at 0.85 as acc")
    assert (rule.for_windows, rule.clear_windows, rule.clear_value) == (4, 3, 0.85)
    assert (rule.severity, rule.name, rule.text) == (
        "critical", "acc", "accuracy < 0.8 severity critical clear 3 for 4 clear at 0.85 as acc",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("x" * 501, "too long"),
        ("accuracy", "needs a comparison"),
        ("height > 3", "not something a monitor measures"),
        ("drift > 0.5", "take no threshold"),
        ("accuracy < fine", "not understood"),
        ("error_rate > 1e999", "finite"),
        ("accuracy < 0.8 for 0", "1 to 1000"),
        ("accuracy < 0.8 for 1001", "1 to 1000"),
        ("accuracy < 0.8 for 2 for 3", "twice"),
        ("accuracy < 0.8 severity loud", "severity"),
        ("accuracy < 0.8 clear at 0.7", "good side"),
        ("error_rate > 0.1 clear at 0.2", "good side"),
        ("f1 < baseline + 0.1", "wrong way"),
        ("error_rate > baseline", "only performance metrics"),
        ("latency_p42 > 1", "latency_p50"),
        ("error_rate:x > 0.1", "takes no"),
    ],
)
def test_bad_rules_are_refused_with_the_fix(text: str, says: str) -> None:
    with pytest.raises(InvalidInputError, match=says):
        parse_rule(text)


def test_rule_names_are_unique_within_a_monitor() -> None:
    with pytest.raises(InvalidInputError, match="as NAME"):
        check_rules(["drift", "drift"])
    assert [r.name for r in check_rules(["drift", "drift for 3 as slow-drift"])] == [
        "drift",
        "slow-drift",
    ]


def _results(**parts: Any) -> dict[str, Any]:
    return {"drift": None, "prediction_drift": None, "health": {}, "performance": None, **parts}


def _drift(*columns: tuple[str, bool, float]) -> dict[str, Any]:
    share = sum(d for _, d, _ in columns) / len(columns)
    return {
        "drift_share": share, "share_threshold": 0.5, "dataset_drifted": share >= 0.5,
        "columns": [{"column": n, "drifted": d, "missing_share": m} for n, d, m in columns],
    }  # fmt: skip


def test_verdicts_on_a_window() -> None:
    window = _results(
        drift=_drift(("age", True, 0.0), ("plan", False, 0.3)),
        health={"requests": 10, "error_rate": 0.2, "latency_ms": {"p95": 40.0}},
        performance={"metrics": {"accuracy": 0.7}, "baseline": {"accuracy": 0.9}},
    )
    verdicts = {
        text: judge(parse_rule(text), window)["breached"]
        for text in ("drift", "drift:age", "drift:plan", "drift:*", "missing > 0.2",
                     "missing:age > 0.2", "error_rate > 0.1", "latency_p95 > 50",
                     "accuracy < 0.8", "accuracy < baseline - 0.1", "accuracy < baseline - 0.3")
    }  # fmt: skip
    assert verdicts == {
        "drift": True, "drift:age": True, "drift:plan": False, "drift:*": True,
        "missing > 0.2": True, "missing:age > 0.2": False, "error_rate > 0.1": True,
        "latency_p95 > 50": False, "accuracy < 0.8": True, "accuracy < baseline - 0.1": True,
        "accuracy < baseline - 0.3": False,
    }  # fmt: skip
    assert judge(parse_rule("accuracy < baseline - 0.1"), window)["threshold"] == pytest.approx(0.8)


def test_a_window_without_what_a_rule_needs_is_not_judged() -> None:
    empty = _results(health={"requests": 0, "error_rate": None, "latency_ms": {"p95": None}})
    for text in ("drift", "drift:age", "error_rate > 0.1", "latency_p95 > 5", "accuracy < 0.8",
                 "prediction_drift", "missing > 0.1"):  # fmt: skip
        verdict = judge(parse_rule(text), empty)
        assert verdict["breached"] is None, text
        assert verdict["reason"]
    no_baseline = _results(performance={"metrics": {"f1": 0.5}, "baseline": None})
    assert judge(parse_rule("f1 < baseline - 0.1"), no_baseline)["breached"] is None
    unknown = _results(drift=_drift(("age", True, 0.0)))
    assert judge(parse_rule("drift:height"), unknown)["breached"] is None


def _error_rates(rule: AlertRule, rates: list[float | None]) -> list[str | None]:
    """Feed one window per rate (None: no requests); the step after each window."""
    verdicts: list[dict[str, Any]] = []
    firing, steps = False, []
    for rate in rates:
        health = {"requests": 0 if rate is None else 100, "error_rate": rate}
        verdicts.append(judge(rule, _results(health=health)))
        step = next_step(rule, verdicts, firing=firing)
        firing = {"fire": True, "resolve": False}.get(step or "", firing)
        steps.append(step)
    return steps


def test_for_fires_only_after_n_breaching_windows_in_a_row() -> None:
    rule = parse_rule("error_rate > 0.1 for 3 clear 2")
    assert _error_rates(rule, [0.2, 0.2, 0.0, 0.2, 0.2, 0.2, 0.2]) == [
        None, None, None, None, None, "fire", None,
    ]  # fmt: skip
    # Windows without requests are skipped: they neither break nor extend the run.
    assert _error_rates(rule, [0.2, None, 0.2, None, 0.2]) == [None, None, None, None, "fire"]


def test_hysteresis_keeps_a_hovering_figure_from_flapping() -> None:
    plain = parse_rule("error_rate > 0.1 for 1 clear 1")
    sticky = parse_rule("error_rate > 0.1 for 1 clear 1 clear at 0.05")
    hovering = [0.2, 0.09, 0.11, 0.09, 0.11, 0.01]
    assert _error_rates(plain, hovering) == [
        "fire",
        "resolve",
        "fire",
        "resolve",
        "fire",
        "resolve",
    ]
    assert _error_rates(sticky, hovering) == ["fire", None, None, None, None, "resolve"]


@settings(max_examples=60, deadline=None)
@given(
    rates=st.lists(st.one_of(st.none(), st.floats(0, 1)), max_size=40),
    for_windows=st.integers(1, 4),
    clear_windows=st.integers(1, 4),
)
def test_fire_and_resolve_alternate_and_follow_their_durations(
    rates: list[float | None], for_windows: int, clear_windows: int
) -> None:
    rule = parse_rule(f"error_rate > 0.5 for {for_windows} clear {clear_windows}")
    steps = _error_rates(rule, rates)
    happened = [(i, s) for i, s in enumerate(steps) if s is not None]
    assert [s for _, s in happened] == ["fire", "resolve"] * (len(happened) // 2) + (
        ["fire"] if len(happened) % 2 else []
    )
    judged = [(i, r) for i, r in enumerate(rates) if r is not None]
    for index, step in happened:
        before = [r for i, r in judged if i <= index]
        if step == "fire":
            assert all(r > 0.5 for r in before[-for_windows:])
            assert len(before) >= for_windows
        else:
            assert all(r <= 0.5 for r in before[-clear_windows:])
