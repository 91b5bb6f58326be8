"""Monitors as Prometheus gauges, read back with prometheus_client's own parser."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from loopml.monitoring.models import Alert, AlertRule, Monitor, MonitorConfig, MonitorWindow
from loopml.monitoring.prometheus import METRICS, prometheus_text

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000
HOSTILE = 'a"b\\c\\n\nd é 🚀 {x="y"} \\"\\'  # backslash-n, newline, trailing backslash


def make_monitor(name: str = "churn-api", rules: tuple[AlertRule, ...] = ()) -> Monitor:
    config = MonitorConfig(rules=rules)
    return Monitor(name, name, None, "datasets:/churn/3", "ab" * 32, "churn", 3, config, 1,
                   T0, None, T0)  # fmt: skip


def column(name: str, method: str, statistic: float, threshold: float, drifted: bool) -> Any:
    return {"column": name, "kind": "numeric", "method": method, "statistic": statistic,
            "threshold": threshold, "drifted": drifted}  # fmt: skip


def make_window(monitor: str = "churn-api", **results: Any) -> MonitorWindow:
    full: dict[str, Any] = {
        "drift": {"columns": [column("tenure", "wasserstein", 0.31, 0.1, True),
                              column("plan", "js", 0.02, 0.05, False)]},
        "prediction_drift": {"columns": [column("predict", "psi", 0.4, 0.2, True)]},
        "quality": {"unexpected_columns": [], "missing_columns": []},
        "health": {"requests": 100, "errors": 2, "error_rate": 0.02,
                   "latency_ms": {"p50": 3.5, "p95": 12.0, "p99": 40.25, "mean": 5.0}},
        "performance": {"task": "classification", "labelled_rows": 40,
                        "coverage": {"requests": 100, "labelled": 40, "share": 0.4},
                        "metrics": {"accuracy": 0.875, "f1": 0.8}, "baseline": None,
                        "by_version": {}, "notes": []},
        "rules": {},
    }  # fmt: skip
    full.update(results)
    return MonitorWindow(7, monitor, T0, T0 + HOUR, 120, 100, (), 0.5, True, full, T0 + HOUR)


def make_alert(rule: str, state: str = "firing", severity: str = "critical") -> Alert:
    return Alert(1, "churn-api", rule, state, severity, T0, 7, 7, None, {})


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        for sample in family.samples:
            found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def test_every_figure_of_the_latest_window_is_a_gauge_with_its_labels() -> None:
    got = samples(prometheus_text([make_monitor()], {"churn-api": make_window()}, []))
    m = {"monitor": "churn-api"}
    assert got[key("loopml_monitor_drift_statistic", **m, feature="tenure",
                   method="wasserstein")] == 0.31  # fmt: skip
    assert got[key("loopml_monitor_drift_threshold", **m, feature="plan", method="js")] == 0.05
    assert got[key("loopml_monitor_feature_drifted", **m, feature="tenure")] == 1
    assert got[key("loopml_monitor_feature_drifted", **m, feature="plan")] == 0
    assert got[key("loopml_monitor_drift_share", **m)] == 0.5
    assert got[key("loopml_monitor_dataset_drifted", **m)] == 1
    assert got[key("loopml_monitor_prediction_drifted", **m, output="predict")] == 1
    assert got[key("loopml_monitor_performance", **m, metric="accuracy")] == 0.875
    assert got[key("loopml_monitor_performance", **m, metric="f1")] == 0.8
    assert got[key("loopml_monitor_label_coverage", **m)] == 0.4
    assert got[key("loopml_monitor_error_rate", **m)] == 0.02
    assert got[key("loopml_monitor_latency_ms", **m, quantile="p99")] == 40.25
    assert got[key("loopml_monitor_latency_ms", **m, quantile="mean")] == 5.0
    assert got[key("loopml_monitor_window_end_timestamp_seconds", **m)] == (T0 + HOUR) / 1000
    assert got[key("loopml_monitor_window_rows", **m)] == 120
    assert len(got) == 19


def test_help_and_type_appear_once_per_family_and_families_are_contiguous() -> None:
    monitors = [make_monitor("a"), make_monitor("b")]
    text = prometheus_text(monitors, {"a": make_window("a"), "b": make_window("b")}, [])
    for name in METRICS:
        if name == "loopml_monitor_alert_firing":
            continue
        assert text.count(f"# HELP {name} ") == 1
        assert text.count(f"# TYPE {name} gauge\n") == 1
    seen: list[str] = []
    for line in text.splitlines():
        name = line.split()[2] if line.startswith("#") else line.split("{")[0]
        if not seen or seen[-1] != name:
            assert name not in seen, f"{name} is split into two blocks"
            seen.append(name)
    assert text.endswith("\n")


def test_missing_and_nan_figures_are_left_out_never_written_as_zero() -> None:
    window = make_window(
        drift=None,
        prediction_drift=None,
        performance=None,
        health={"requests": 0, "errors": 0, "error_rate": None,
                "latency_ms": {"p50": math.nan, "p95": None, "p99": None, "mean": None}},
    )  # fmt: skip
    empty = MonitorWindow(8, "churn-api", T0, T0 + HOUR, 0, 0, (), None, False, window.results, 0)
    got = samples(prometheus_text([make_monitor()], {"churn-api": empty}, []))
    assert {name for name, _ in got} == {
        "loopml_monitor_window_end_timestamp_seconds",
        "loopml_monitor_window_rows",
    }
    assert "NaN" not in prometheus_text([make_monitor()], {"churn-api": empty}, [])


def test_alert_gauges_fire_for_firing_alerts_and_read_zero_for_quiet_rules() -> None:
    rules = (
        AlertRule("drift", "drift", severity="critical"),
        AlertRule("slow", "latency", target="p95", value=250.0),
        AlertRule("errors", "error_rate", value=0.05),
        AlertRule("missing", "missing", value=0.1, severity="critical"),
    )
    alerts = [
        make_alert("drift"),
        make_alert("slow", state="resolved", severity="warning"),
        make_alert("renamed-rule", severity="warning"),
        make_alert("missing", severity="warning"),  # opened before the rule became critical
        Alert(2, "other-monitor", "errors", "firing", "warning", T0, 1, 1, None, {}),
    ]
    got = samples(prometheus_text([make_monitor(rules=rules)], {}, alerts))
    firing = "loopml_monitor_alert_firing"
    m = {"monitor": "churn-api"}
    assert got == {
        key(firing, **m, rule="drift", severity="critical"): 1,
        key(firing, **m, rule="slow", severity="warning"): 0,
        key(firing, **m, rule="errors", severity="warning"): 0,
        key(firing, **m, rule="renamed-rule", severity="warning"): 1,
        key(firing, **m, rule="missing", severity="warning"): 1,
    }


def test_hostile_names_round_trip_through_the_parser() -> None:
    window = make_window(
        drift={"columns": [column(HOSTILE, "ks", 0.5, 0.05, True)]},
        performance={"coverage": {"share": 1.0}, "metrics": {HOSTILE: 0.5}},
    )
    rules = (AlertRule(HOSTILE, "drift"),)
    text = prometheus_text([make_monitor(HOSTILE, rules)], {HOSTILE: window}, [])
    got = samples(text)
    assert got[key("loopml_monitor_drift_statistic", monitor=HOSTILE, feature=HOSTILE,
                   method="ks")] == 0.5  # fmt: skip
    assert got[key("loopml_monitor_performance", monitor=HOSTILE, metric=HOSTILE)] == 0.5
    assert got[key("loopml_monitor_alert_firing", monitor=HOSTILE, rule=HOSTILE,
                   severity="warning")] == 0  # fmt: skip
    assert all(line.count("\n") == 0 for line in text.splitlines())


@given(
    name=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=30),
    value=st.floats(allow_nan=False, width=64),
)
def test_any_label_value_and_any_number_survive_the_format(name: str, value: float) -> None:
    window = make_window(drift={"columns": [column(name, "psi", value, 0.2, False)]})
    got = samples(prometheus_text([make_monitor()], {"churn-api": window}, []))
    found = got[key("loopml_monitor_drift_statistic", monitor="churn-api", feature=name,
                    method="psi")]  # fmt: skip
    assert found == value


def test_nothing_to_expose_is_an_empty_text() -> None:
    assert prometheus_text([make_monitor()], {}, []) == ""
