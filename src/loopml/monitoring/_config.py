"""A monitor's options, checked: its name, window, drift options, thresholds and rules.

Example:
    >>> parse_window("15m"), parse_window("5000 rows")
    (('time', 900000), ('count', 5000))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInputError
from loopml.monitoring.models import MonitorConfig
from loopml.monitoring.rules import DEFAULT_RULES, check_rules

__all__ = ["check_config", "check_name", "check_share", "check_thresholds", "parse_window"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,249}")
_TIME = re.compile(r"(?P<n>\d+)\s*(?P<unit>s|m|h|d|w)")
_ROWS = re.compile(r"(?P<n>\d+)\s*rows?")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_METHODS = ("auto", "ks", "wasserstein", "psi", "js", "chi2")


def parse_window(text: str) -> tuple[str, int]:
    """``("time", ms)`` for ``1h``-style windows, ``("count", rows)`` for ``5000 rows``."""
    cleaned = text.strip().lower() if isinstance(text, str) else ""
    if match := _TIME.fullmatch(cleaned):
        size = int(match["n"]) * _UNIT_MS[match["unit"]]
        if size >= 1_000:
            return "time", size
    if (match := _ROWS.fullmatch(cleaned)) and 1 <= int(match["n"]) <= 10_000_000:
        return "count", int(match["n"])
    raise InvalidInputError(
        f"window {text!r} is not a window; give a duration like '15m', '1h' or '1d', "
        "or a row count like '5000 rows' (1 to 10,000,000)"
    )


def check_config(**options: Any) -> MonitorConfig:
    """A :class:`MonitorConfig` from ``MonitorClient.create``'s options, each checked.

    Raises:
        InvalidInputError: naming the bad option and what it takes.
    """
    parse_window(options["window"])
    method = options["method"]
    if not isinstance(method, str) or method not in _METHODS:
        raise InvalidInputError(
            f"drift method {method!r} is not one of auto, ks, wasserstein, psi, js, chi2"
        )
    correction = options["correction"]
    if correction not in (None, "bh", "bonferroni"):
        raise InvalidInputError(f"correction must be bh, bonferroni or none, got {correction!r}")
    alpha = options["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be a p-value in (0, 1), got {alpha!r}")
    task = options["task"]
    if task not in (None, "classification", "regression"):
        raise InvalidInputError(f"task must be classification or regression, got {task!r}")
    importance = {str(k): float(v) for k, v in (options["importance"] or {}).items()}
    if any(not v >= 0 for v in importance.values()):
        raise InvalidInputError("feature importance weights must be numbers >= 0")
    rules = options["rules"]
    return MonitorConfig(
        window=options["window"].strip(),
        features=tuple(options["features"]),
        method=method,
        thresholds=check_thresholds(options["thresholds"] or {}),
        correction=correction,
        alpha=float(alpha),
        share_threshold=check_share(options["share_threshold"]),
        importance=importance,
        target=options["target"],
        task=task,
        prediction=options["prediction"],
        probability=options.get("probability"),
        rules=check_rules(DEFAULT_RULES if rules is None else rules),
    )


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"monitor name {name!r} is not valid; use 1-250 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_thresholds(thresholds: Mapping[str, float]) -> dict[str, float]:
    checked: dict[str, float] = {}
    for method, value in thresholds.items():
        if method not in ("ks", "wasserstein", "psi", "js", "chi2"):
            raise InvalidInputError(
                f"threshold for {method!r}: not a drift method (ks, wasserstein, psi, js, chi2)"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise InvalidInputError(f"threshold for {method} must be a number >= 0, got {value!r}")
        checked[method] = float(value)
    return checked


def check_share(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise InvalidInputError(f"share threshold must be in (0, 1], got {value!r}")
    return float(value)
