"""Judging a reproduction: metrics within a tolerance, and how the environments differ.

A metric matches when ``|reproduced - original| <= tolerance * max(1, |original|)``:
an absolute tolerance for metrics of magnitude up to 1 (accuracy, AUC, R²), a relative
one above (an RMSE in dollars). Two NaNs match; a metric on one side only does not.

Example:
    >>> close(0.9, 0.9 + 1e-9, 1e-6), close(1000.0, 1000.5, 1e-6)
    (True, False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from loopml.automation._reproduce_origin import MetricKey

__all__ = ["EnvironmentDiff", "MetricComparison", "close", "compare_metrics", "diff_environments"]


@dataclass(frozen=True, slots=True)
class MetricComparison:
    """One metric of one step, before and after (``None``: not logged on that side)."""

    step: str  # the step node ("" for the pipeline run itself)
    metric: str
    original: float | None
    reproduced: float | None
    ok: bool

    @property
    def delta(self) -> float | None:
        """``reproduced - original``, when both exist."""
        if self.original is None or self.reproduced is None:
            return None
        return self.reproduced - self.original

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "metric": self.metric,
            "original": _json_number(self.original),
            "reproduced": _json_number(self.reproduced),
            "delta": _json_number(self.delta),
            "ok": self.ok,
        }


@dataclass(frozen=True, slots=True)
class EnvironmentDiff:
    """What differs between the original run's environment and the reproduction's.

    ``packages`` maps a distribution name to ``(original, reproduced)`` versions, ``None``
    where it was not installed on that side.
    """

    python: tuple[str | None, str | None]
    commit: tuple[str | None, str | None]
    dirty: tuple[bool | None, bool | None]
    packages: dict[str, tuple[str | None, str | None]]

    @property
    def empty(self) -> bool:
        same = self.python[0] == self.python[1] and self.commit[0] == self.commit[1]
        return same and self.dirty[0] == self.dirty[1] and not self.packages

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": list(self.python),
            "commit": list(self.commit),
            "dirty": list(self.dirty),
            "packages": {k: list(v) for k, v in self.packages.items()},
        }


def close(original: float, reproduced: float, tolerance: float) -> bool:
    """Whether ``reproduced`` is within ``tolerance`` of ``original`` (see the module)."""
    if math.isnan(original) or math.isnan(reproduced):
        return math.isnan(original) and math.isnan(reproduced)
    if math.isinf(original) or math.isinf(reproduced):
        return original == reproduced
    return abs(reproduced - original) <= tolerance * max(1.0, abs(original))


def compare_metrics(
    original: dict[MetricKey, float], reproduced: dict[MetricKey, float], tolerance: float
) -> list[MetricComparison]:
    """One comparison per (step, metric) logged on either side, in step then name order."""
    found = []
    for key in sorted(set(original) | set(reproduced)):
        before, after = original.get(key), reproduced.get(key)
        ok = before is not None and after is not None and close(before, after, tolerance)
        found.append(MetricComparison(key[0], key[1], before, after, ok))
    return found


def diff_environments(original: dict[str, Any], reproduced: dict[str, Any]) -> EnvironmentDiff:
    """The differences between two recorded environments (``capture_environment`` bodies)."""
    before_git, after_git = original.get("git") or {}, reproduced.get("git") or {}
    before_pkgs = original.get("packages") or {}
    after_pkgs = reproduced.get("packages") or {}
    packages = {
        name: (before_pkgs.get(name), after_pkgs.get(name))
        for name in sorted(set(before_pkgs) | set(after_pkgs))
        if before_pkgs.get(name) != after_pkgs.get(name)
    }
    return EnvironmentDiff(
        python=(_python(original), _python(reproduced)),
        commit=(before_git.get("commit"), after_git.get("commit")),
        dirty=(_flag(before_git), _flag(after_git)),
        packages=packages,
    )


def _python(environment: dict[str, Any]) -> str | None:
    return (environment.get("python") or {}).get("version")


def _flag(git: dict[str, Any]) -> bool | None:
    return None if "dirty" not in git else bool(git["dirty"])


def _json_number(value: float | None) -> float | str | None:
    if value is not None and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    return value
