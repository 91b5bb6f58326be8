"""The monitoring report: one self-contained page, every name escaped, any window shape."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loopml.monitoring._report_figures import MAX_SCORE, drift_score
from loopml.monitoring.models import Alert, AlertRule, Monitor, MonitorConfig, MonitorWindow
from loopml.monitoring.report import render_report, report_figures
from loopml.render import plotly_js

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000
EVIL = "<script>alert(1)</script>"
SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc\s*=", re.IGNORECASE)
FIGURE_JSON = re.compile(
    r'<script type="application/json" data-figure-json="([^"]+)">(.*?)</script>'
)


def make_monitor(name: str = "churn-api", rules: tuple[AlertRule, ...] = ()) -> Monitor:
    config = MonitorConfig(rules=rules, share_threshold=0.5)
    return Monitor(name, "churn-api", None, "datasets:/churn_train/3", "ab" * 32, "churn", 3,
                   config, 1, T0, None, T0)  # fmt: skip


def numeric(name: str, statistic: float, current: list[int], **changes: Any) -> dict[str, Any]:
    column = {
        "column": name, "kind": "numeric", "method": "wasserstein", "statistic": statistic,
        "p_value": None, "p_adjusted": None, "effect_size": statistic * 2, "threshold": 0.1,
        "threshold_source": "calibrated", "drifted": statistic >= 0.1, "rows": sum(current),
        "missing_share": 0.01, "reference_missing_share": 0.0, "out_of_range_share": 0.002,
        "unseen": [],
        "distribution": {"kind": "numeric", "edges": [0.0, 1.0, 2.0, 3.0],
                         "reference": [10, 20, 10], "current": current},
        "note": None,
    }  # fmt: skip
    column.update(changes)
    return column


def categorical(name: str, p_value: float, values: list[str], **changes: Any) -> dict[str, Any]:
    column = {
        "column": name, "kind": "categorical", "method": "chi2", "statistic": 12.5,
        "p_value": p_value, "p_adjusted": min(p_value * 2, 1.0), "effect_size": 0.3,
        "threshold": 0.05, "threshold_source": "p-value", "drifted": p_value * 2 <= 0.05,
        "rows": 40, "missing_share": 0.0, "reference_missing_share": 0.0,
        "out_of_range_share": 0.0, "unseen": values[2:],
        "distribution": {"kind": "categorical", "values": values,
                         "reference": [30, 10] + [0] * (len(values) - 2),
                         "current": [10, 20] + [5] * (len(values) - 2)},
        "note": None,
    }  # fmt: skip
    column.update(changes)
    return column


def make_window(i: int, columns: list[dict[str, Any]] | None = None, **results: Any) -> Any:
    columns = columns if columns is not None else [
        numeric("tenure", 0.05 * (i + 1), [10, 20, 10 + i]),
        categorical("plan", 0.2 / (i + 1), ["basic", "pro", "enterprise"]),
    ]  # fmt: skip
    drifted = sum(c["drifted"] for c in columns)
    share = drifted / len(columns) if columns else None
    full: dict[str, Any] = {
        "drift": {"rows": 40, "correction": "bh", "alpha": 0.05, "drift_share": share,
                  "share_threshold": 0.5, "dataset_drifted": (share or 0) >= 0.5,
                  "weighted": False, "columns": columns} if columns else None,
        "prediction_drift": {"columns": [numeric("predict", 0.02, [10, 20, 10])]},
        "quality": {"unexpected_columns": ["debug_flag"], "missing_columns": []},
        "health": {"requests": 50, "errors": i, "error_rate": i / 50,
                   "latency_ms": {"p50": 3.0, "p95": 10.0 + i, "p99": 20.0, "mean": 4.0}},
        "performance": {"task": "classification", "labelled_rows": 20 + i,
                        "coverage": {"requests": 50, "labelled": 20 + i, "share": (20 + i) / 50},
                        "metrics": {"accuracy": 0.9 - 0.05 * i},
                        "baseline": {"accuracy": 0.91},
                        "by_version": {"churn/3": {"labelled_rows": 20 + i,
                                                   "metrics": {"accuracy": 0.9 - 0.05 * i}}},
                        "notes": ["labels arrive up to 3 days late"]},
        "rules": {"accuracy < 0.8 for 2": {"breached": i >= 3, "clear": i < 3,
                                           "value": 0.9 - 0.05 * i, "threshold": 0.8,
                                           "reason": "accuracy against 0.8"}},
    }  # fmt: skip
    full.update(results)
    start = T0 + i * HOUR
    return MonitorWindow(
        id=i + 1, monitor="churn-api", start_ms=start, end_ms=start + HOUR, rows=40,
        requests=50, versions=({"model": "churn", "version": 3, "rows": 40},),
        drift_share=share, dataset_drifted=(share or 0) >= 0.5, results=full,
        created_at=start + HOUR,
    )  # fmt: skip


def make_alert(i: int, rule: str, state: str, **changes: Any) -> Alert:
    values: dict[str, Any] = {
        "id": i, "monitor": "churn-api", "rule": rule, "state": state, "severity": "critical",
        "opened_at": T0 + i * HOUR, "opened_window": i, "last_window": i + 1,
        "resolved_at": T0 + (i + 2) * HOUR if state == "resolved" else None,
        "evidence": {"kind": "performance",
                     "windows": [{"window": i, "value": 0.75, "threshold": 0.8}]},
    }  # fmt: skip
    values.update(changes)
    return Alert(**values)


def figures_in(page: str) -> dict[str, Any]:
    return {key: json.loads(text) for key, text in FIGURE_JSON.findall(page)}


def test_the_report_shows_every_section_of_the_latest_window() -> None:
    windows = [make_window(i) for i in (2, 0, 3, 1)]  # any order
    alerts = [
        make_alert(1, "accuracy < 0.8 for 2", "firing", acked_at=T0 + 5 * HOUR,
                   acked_by="ana", ack_reason="retraining"),
        make_alert(0, "drift", "resolved", severity="warning"),
    ]  # fmt: skip
    page = render_report(make_monitor(), windows, alerts)

    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Monitor churn-api</title>" in page
    assert "datasets:/churn_train/3" in page
    assert "churn/3 (40 rows)" in page
    assert "#4: 2026-01-01 03:00:00 UTC to 2026-01-01 04:00:00 UTC" in page
    assert "50.00%</b>drift share (threshold 50.00%)" in page
    assert "0.75</b>accuracy (evaluation 0.91)" in page
    assert "label coverage 46.00% (23 of 50 requests)" in page
    # the features table: tenure (statistic 0.2 over the calibrated 0.1) drifted; plan not
    features = page.split('<table id="features"', 1)[1].split("</table>", 1)[0]
    assert features.count('<tr class="feature') == 2
    assert '<tr class="feature drifted">' in features
    assert "wasserstein" in features
    assert "calibrated" in features
    assert "p-value" in features
    assert "<code>enterprise</code>" in features  # an unseen category
    assert "<code>debug_flag</code>" in page  # an unexpected column
    assert '<table id="predictions"' in page
    assert '<table id="rules"' in page
    assert "breached" in page
    assert '<table id="by-version"' in page
    assert "labels arrive up to 3 days late" in page
    # the alert history, newest first, with the acknowledgement and the evidence
    history = page.split('<table id="alerts"', 1)[1].split("</table>", 1)[0]
    assert history.index("accuracy &lt; 0.8 for 2") < history.index("<code>drift</code>")
    assert "by ana (retraining)" in history
    assert "window 1: 0.75 vs 0.8" in history
    assert history.count('class="pill bad">firing') == 1
    assert "2026-01-01 02:00:00 UTC" in history  # the resolved alert's resolution

    drawn = figures_in(page)
    assert set(drawn) == {"fig-feature-1", "fig-feature-2", "fig-output-1", "fig-drift-scores",
                          "fig-performance", "fig-health"}  # fmt: skip
    # distributions come from the latest window (#4: tenure's current bins 10, 20, 13)
    tenure = drawn["fig-feature-1"]["data"][1]
    assert tenure["y"] == [10 / 43, 20 / 43, 13 / 43]
    scores = {trace["name"]: trace["y"] for trace in drawn["fig-drift-scores"]["data"]}
    assert scores["tenure"] == [0.5, 1.0, 1.5, 2.0]  # statistic / threshold, window by window
    assert scores["drift share"] == [0.0, 0.5, 0.5, 0.5]


def test_every_figure_is_valid_plotly() -> None:
    """plotly's own validator accepts each figure (a misspelt property would raise)."""
    import plotly.graph_objects as go

    page = render_report(make_monitor(), [make_window(i) for i in range(3)], [])
    drawn = figures_in(page)
    assert len(drawn) == 6
    for spec in drawn.values():
        go.Figure(spec)


def test_a_chosen_window_is_shown_in_detail_and_still_drawn_over_time() -> None:
    windows = [make_window(i) for i in range(4)]
    page = render_report(make_monitor(), windows, [], window=windows[0])
    assert "#1: 2026-01-01 00:00:00 UTC to 2026-01-01 01:00:00 UTC" in page
    assert '<tr class="chosen"><td>#1</td>' in page
    tenure = figures_in(page)["fig-feature-1"]["data"][1]
    assert tenure["y"] == [10 / 40, 20 / 40, 10 / 40]
    assert len(figures_in(page)["fig-health"]["data"][0]["y"]) == 4


def test_plotly_is_inlined_once_and_nothing_is_fetched() -> None:
    page = render_report(make_monitor(), [make_window(i) for i in range(3)], [])
    assert page.count(plotly_js()[:200]) == 1
    assert not SCRIPT_SRC.search(page)
    assert not re.search(r"""<(link|img|iframe)[^>]*(href|src)\s*=\s*["']?https?:""", page)


def test_hostile_names_are_escaped_everywhere() -> None:
    columns = [
        numeric(EVIL, 0.5, [1, 2, 3], note=EVIL),
        categorical("plan", 0.001, ["basic", "pro", EVIL]),
    ]
    window = make_window(0, columns, quality={"unexpected_columns": [EVIL],
                                              "missing_columns": [EVIL]})  # fmt: skip
    window.results["performance"]["metrics"] = {EVIL: 0.5}
    window.results["rules"] = {EVIL: {"breached": True, "value": 1.0, "reason": EVIL}}
    monitor = make_monitor(EVIL, rules=(AlertRule(EVIL, "drift", text=EVIL),))
    alert = make_alert(1, EVIL, "firing", evidence={"note": EVIL})
    page = render_report(monitor, [window], [alert])

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("&lt;script&gt;alert(1)") >= 8
    assert "\\u003cscript\\u003ealert(1)" in page  # names inside figure JSON stay data
    assert EVIL in figures_in(page)["fig-feature-1"]["layout"]["xaxis"]["title"]["text"]


def test_zero_windows_says_how_to_compute_one() -> None:
    page = render_report(make_monitor(EVIL), [], [make_alert(1, "drift", "firing")])
    assert "No windows computed yet: run <code>loopml monitor run &lt;script&gt;" in page
    assert "<script" not in page  # no figure, so no JavaScript at all
    assert '<table id="alerts"' in page


def test_windows_without_rows_or_labels_render() -> None:
    empty = make_window(1, [], prediction_drift=None, performance=None,
                        health={"requests": 0, "errors": 0, "error_rate": None,
                                "latency_ms": {"p50": None, "p95": None, "p99": None,
                                               "mean": None}})  # fmt: skip
    page = render_report(make_monitor(), [make_window(0), empty], [])
    assert "no rows</span>" in page
    assert "No drift measured on this window" in page
    assert "No prediction drift measured" in page
    assert "No realized performance on this window" in page
    drawn = figures_in(page)
    assert "fig-feature-1" not in drawn
    scores = {trace["name"]: trace["y"] for trace in drawn["fig-drift-scores"]["data"]}
    assert scores["tenure"] == [0.5, None]  # a gap, not a zero
    assert scores["drift share"] == [0.0, None]
    assert drawn["fig-performance"]["data"][0]["y"] == [0.4, None]

    alone = render_report(make_monitor(), [empty], [])
    assert "fig-drift-scores" not in alone
    assert "fig-performance" not in alone
    assert "fig-health" not in alone


def test_open_ended_bins_and_odd_numbers_still_make_valid_figure_json() -> None:
    column = numeric("tenure", float("nan"), [1, 2, 3], effect_size=float("inf"))
    column["distribution"]["edges"] = [float("-inf"), 1.0, 2.0, float("inf")]
    page = render_report(make_monitor(), [make_window(0, [column])], [])
    edges = figures_in(page)["fig-feature-1"]["data"][0]["x"]
    assert edges == [0.5, 1.5, 2.5]


def test_report_figures_are_the_pages_figures() -> None:
    windows = [make_window(i) for i in range(3)]
    found = report_figures(windows)
    assert sorted(found.distributions) == ["plan", "tenure"]
    assert sorted(found.predictions) == ["predict"]
    drawn = figures_in(render_report(make_monitor(), windows, []))
    assert drawn["fig-drift-scores"] == found.drift_scores
    assert drawn["fig-health"] == found.health
    assert report_figures([]).distributions == {}


@given(
    p_value=st.floats(min_value=0, max_value=1),
    level=st.floats(min_value=1e-6, max_value=0.5),
)
def test_p_value_scores_cross_one_where_the_test_rejects(p_value: float, level: float) -> None:
    score = drift_score({"p_value": p_value, "p_adjusted": None, "threshold": level,
                         "threshold_source": "p-value"})  # fmt: skip
    assert score is not None
    assert 0 <= score <= MAX_SCORE
    if p_value < level * 0.999:
        assert score > 1 or score == MAX_SCORE
    if p_value > level * 1.001:
        assert score < 1


@given(
    statistic=st.floats(min_value=0, max_value=1e6),
    threshold=st.floats(min_value=1e-6, max_value=1e6),
)
def test_statistic_scores_are_the_ratio_to_the_threshold(
    statistic: float, threshold: float
) -> None:
    score = drift_score({"statistic": statistic, "threshold": threshold,
                         "threshold_source": "fixed"})  # fmt: skip
    assert score is not None
    expected = min(statistic / threshold, MAX_SCORE)
    assert abs(score - expected) <= 1e-6


def test_many_windows_are_all_drawn_and_the_table_keeps_the_latest() -> None:
    windows = [make_window(i, [numeric("tenure", 0.01 * (i % 20), [1, 2, 3])]) for i in range(120)]
    page = render_report(make_monitor(), windows, [])
    table = page.split('<table id="windows"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr class=") == 50
    assert "<td>#120</td>" in table
    assert "<td>#71</td>" in table
    assert "<td>#70</td>" not in table
    assert "The latest 50 of 120 windows." in page
    scores = figures_in(page)["fig-drift-scores"]["data"][0]
    assert scores["name"] == "tenure"
    assert len(scores["y"]) == 120


def test_schema_checks_and_the_estimated_performance_are_shown() -> None:
    violation = {"column": "plan", "check": "categories", "severity": "error",
                 "expected": "one of basic, pro", "observed": "<b>enterprise</b>", "count": 30,
                 "fraction": 0.1, "message": "30 rows"}  # fmt: skip
    quality = {"unexpected_columns": [], "missing_columns": [],
               "schema": {"passed": False, "violations": [violation]}}  # fmt: skip
    estimated = {"method": "cbpe", "estimate": True, "rows": 40, "notes": [],
                 "metrics": {"accuracy": 0.8125}, "assumptions": "calibrated"}  # fmt: skip
    window = make_window(0, quality=quality, estimated_performance=estimated)
    page = render_report(make_monitor(), [window], [])
    table = page[page.index('id="schema-checks"') :]
    assert "categories" in table[: table.index("</table>")]
    assert "&lt;b&gt;enterprise&lt;/b&gt;" in table  # the observed values are escaped
    assert 'id="estimated"' in page
    assert "0.8125" in page
    clean = make_window(1, quality={"schema": {"passed": True, "violations": []}})
    assert "every input follows the dataset" in render_report(make_monitor(), [clean], [])
