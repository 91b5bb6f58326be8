"""Synthetic streams with known shifts, through a monitor's window measurement and rules.

Each stream is a run of windows shaped like the payload log (``input.*``, ``output.*``,
``label``); each window is measured against one stored reference sketch
(:func:`measure_window`), every rule judged on it (:func:`judge`), and the alert state
advanced (:func:`next_step`), exactly as :class:`MonitorClient` does on stored windows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.data.sketch import ReferenceSketch, sketch_table
from loopml.monitoring.models import MonitorConfig
from loopml.monitoring.rules import DEFAULT_RULES, check_rules, judge, next_step
from loopml.monitoring.windows import measure_window

PLANS = ["basic", "pro", "team"]
Shift = Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]


def _rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "x1": rng.normal(0.0, 1.0, n),
            "x2": rng.normal(5.0, 2.0, n),
            "x3": rng.exponential(1.0, n),
            "x4": rng.uniform(0.0, 1.0, n),
            "plan": rng.choice(PLANS, n, p=[0.5, 0.3, 0.2]),
        }
    )
    frame["y"] = (frame["x1"] > 0).astype(int)
    return frame


def _window(
    frame: pd.DataFrame, index: int, *, flip: float = 0.0, rng: Any = None, labels: bool = True
) -> pd.DataFrame:
    """``frame`` as payload-log rows of one window: one request per row, a perfect model
    (labels joined unless ``labels`` is false; ``flip``: the share of labels flipped)."""
    n = len(frame)
    truth = frame["y"].to_numpy().copy()
    if flip:
        flipped = rng.random(n) < flip
        truth[flipped] = 1 - truth[flipped]
    log = pd.DataFrame(
        {
            "request_id": [f"w{index}-{i}" for i in range(n)],
            "row": 0,
            "time_ms": index * 1000 + np.arange(n),
            "model": "m",
            "version": 1,
            "role": "primary",
            "status": 200,
            "latency_ms": 1.0,
        }
    )
    for name in ("x1", "x2", "x3", "x4", "plan"):
        log[f"input.{name}"] = frame[name].to_numpy()
    log["output.predict"] = frame["y"].to_numpy()
    if labels:
        log["label"] = pd.Series(truth.tolist(), dtype=object)
    return log


@pytest.fixture(scope="module")
def reference() -> tuple[ReferenceSketch, ReferenceSketch]:
    rng = np.random.default_rng(2026)
    train = _rows(rng, 20_000)
    inputs = sketch_table(train, columns=["x1", "x2", "x3", "x4", "plan", "y"])
    outputs = sketch_table(pd.DataFrame({"output.predict": train["y"].to_numpy()}))
    return inputs, outputs


def _stream(
    reference: tuple[ReferenceSketch, ReferenceSketch],
    rules: Sequence[str],
    windows: Sequence[pd.DataFrame],
) -> tuple[list[dict[str, Any]], list[tuple[int, str, str]]]:
    """Measure each window, judge each rule; return the results and ``(window, rule,
    fire|resolve)`` steps in order."""
    config = MonitorConfig(
        features=("x1", "x2", "x3", "x4", "plan"), target="y", task="classification",
        rules=check_rules(rules),
    )  # fmt: skip
    inputs, outputs = reference
    history: dict[str, list[dict[str, Any]]] = {rule.name: [] for rule in config.rules}
    firing: set[str] = set()
    steps: list[tuple[int, str, str]] = []
    measured: list[dict[str, Any]] = []
    for index, window in enumerate(windows):
        results = measure_window(window, inputs, config, baseline={"accuracy": 1.0},
                                 outputs=outputs).results  # fmt: skip
        measured.append(results)
        for rule in config.rules:
            history[rule.name].append(judge(rule, results, share_threshold=0.5))
            step = next_step(rule, history[rule.name], firing=rule.name in firing)
            if step == "fire":
                firing.add(rule.name)
            elif step == "resolve":
                firing.discard(rule.name)
            if step is not None:
                steps.append((index, rule.name, step))
    return measured, steps


def _mean_shift(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame["x1"] = frame["x1"] + 0.5
    return frame


def _variance(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame["x2"] = 5.0 + (frame["x2"] - 5.0) * 2.0
    return frame


def _new_category(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame.loc[rng.random(len(frame)) < 0.2, "plan"] = "enterprise"
    return frame


def _missing(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame.loc[rng.random(len(frame)) < 0.3, "x3"] = np.nan
    return frame


@pytest.mark.parametrize(
    ("shift", "rule", "rows"),
    [
        (_mean_shift, "drift:x1", 500),
        (_mean_shift, "drift:x1", 5000),
        (_variance, "drift:x2", 500),
        (_variance, "drift:x2", 5000),
        (_new_category, "drift:plan", 500),
        (_new_category, "drift:plan", 5000),
        (_missing, "missing:x3 > 0.1", 500),
    ],
)
def test_a_known_shift_fires_its_rule_on_the_second_shifted_window_and_resolves(
    reference: tuple[ReferenceSketch, ReferenceSketch], shift: Shift, rule: str, rows: int
) -> None:
    rng = np.random.default_rng(rows)
    plain = [_window(_rows(rng, rows), i) for i in range(3)]
    shifted = [_window(shift(_rows(rng, rows), rng), 3 + i) for i in range(3)]
    back = [_window(_rows(rng, rows), 6 + i) for i in range(3)]
    measured, steps = _stream(reference, [rule], plain + shifted + back)
    # for 2: the 2nd shifted window (index 4) fires it; clear 2: the 2nd clean one resolves.
    assert steps == [(4, rule, "fire"), (7, rule, "resolve")]
    if shift is _new_category:
        plan = next(c for c in measured[3]["drift"]["columns"] if c["column"] == "plan")
        assert plan["unseen"] == ["enterprise"]
        assert plan["out_of_range_share"] == pytest.approx(0.2, abs=0.05)
    if shift is _missing:
        x3 = next(c for c in measured[3]["drift"]["columns"] if c["column"] == "x3")
        assert x3["missing_share"] == pytest.approx(0.3, abs=0.05)
        assert x3["reference_missing_share"] == 0.0


def test_a_label_flip_fires_the_performance_rule_against_the_baseline(
    reference: tuple[ReferenceSketch, ReferenceSketch],
) -> None:
    rng = np.random.default_rng(9)
    windows = [_window(_rows(rng, 400), i) for i in range(2)]
    windows += [_window(_rows(rng, 400), 2 + i, flip=0.3, rng=rng) for i in range(3)]
    measured, steps = _stream(reference, ["accuracy < baseline - 0.1 for 2"], windows)
    assert measured[0]["performance"]["metrics"]["accuracy"] == 1.0
    assert measured[2]["performance"]["metrics"]["accuracy"] == pytest.approx(0.7, abs=0.06)
    assert steps == [(3, "accuracy < baseline - 0.1 for 2", "fire")]
    # The inputs did not move: no drift anywhere.
    assert not any(m["drift"]["dataset_drifted"] for m in measured)


def test_a_stationary_stream_raises_no_alert_over_1000_windows(
    reference: tuple[ReferenceSketch, ReferenceSketch],
) -> None:
    rng = np.random.default_rng(1000)
    windows = [_window(_rows(rng, 300), i, labels=False) for i in range(1000)]
    measured, steps = _stream(reference, DEFAULT_RULES, windows)
    flagged = sum(len([c for c in m["drift"]["columns"] if c["drifted"]]) for m in measured)
    rate = flagged / (1000 * 5)
    dataset = sum(m["drift"]["dataset_drifted"] for m in measured)
    # The default rules: dataset drift for 2 windows, error rate above 5 % for 2 windows.
    assert steps == [], f"alerts on a stationary stream: {steps[:5]} (per-feature rate {rate:.3%})"
    assert dataset == 0, f"{dataset} windows flagged as dataset drift"
    # BH at 5 % over 5 features: the per-feature false-positive rate stays near alpha / 5.
    assert rate <= 0.02, f"per-feature false-positive rate {rate:.3%} over 5,000 tests"


def test_performance_estimated_without_labels_follows_calibrated_probabilities() -> None:
    from loopml.monitoring.windows import CBPE_ASSUMPTIONS, estimate_performance

    rng = np.random.default_rng(4)
    config = MonitorConfig(probability="p", task="classification")
    for low, high in ((0.0, 1.0), (0.3, 0.7), (0.0, 0.2)):
        p = rng.uniform(low, high, 20_000)
        truth = (rng.random(p.size) < p).astype(int)  # calibrated: P(y = 1) is p
        predicted = (p >= 0.5).astype(int)
        estimated = estimate_performance(pd.DataFrame({"output.p": p}), config)
        assert estimated is not None
        assert estimated["estimate"] is True
        assert estimated["assumptions"] == CBPE_ASSUMPTIONS
        assert estimated["metrics"]["accuracy"] == pytest.approx(
            (truth == predicted).mean(), abs=0.015
        )
    # The classes' probabilities as lists (predict_proba's rows): the positive class last.
    rows = pd.DataFrame({"output.p": [[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]]})
    estimated = estimate_performance(rows, config)
    assert estimated is not None
    assert estimated["metrics"]["accuracy"] == pytest.approx((0.9 + 0.8 + 0.5) / 3)
    assert estimate_performance(rows, MonitorConfig()) is None
    missing = estimate_performance(pd.DataFrame({"output.q": [0.5]}), config)
    assert missing is not None
    assert missing["notes"] == ["the window has no output 'p'"]
