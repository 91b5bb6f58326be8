"""Search spaces for :func:`loopml.pipelines.tune.tune`: what each parameter may take.

A search space maps each parameter name to a spec. Specs are checked (and turned into
Optuna distributions) only when the search starts, so a space can be written without
Optuna installed, and a bad spec is refused with the parameter's name in the message.

=====================================  ==========================================
spec                                   values
=====================================  ==========================================
``uniform(0.0, 1.0)``                  floats in [0, 1] (``step=0.1``: a grid)
``loguniform(1e-5, 1e-1)``             floats, sampled on a log scale
``int_range(1, 10, step=1)``           integers in [1, 10] (``log=True`` allowed)
``choice(["adam", "sgd"])``            one of the values (``None``/bool/int/float/str)
``["adam", "sgd"]``                    the same as ``choice([...])``
``(1, 10)`` / ``(0.0, 1.0)``           ``int_range(1, 10)`` / ``uniform(0.0, 1.0)``
an ``optuna.distributions`` object     taken as it is
=====================================  ==========================================

Example:
    >>> space = {"lr": loguniform(1e-4, 1e-1), "depth": int_range(2, 8), "act": ["relu", "tanh"]}
    >>> sorted(space)
    ['act', 'depth', 'lr']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.tracking import check_key

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = [
    "Choice",
    "FloatRange",
    "IntRange",
    "choice",
    "grid_values",
    "int_range",
    "loguniform",
    "to_distributions",
    "uniform",
]

# Refuse grids that would not fit in memory long before they are built.
MAX_GRID = 100_000
_EXAMPLE = (
    "e.g. uniform(0.0, 1.0), loguniform(1e-4, 1e-1), int_range(1, 10), choice(['a', 'b']), "
    "a list of choices, or a (low, high) tuple"
)
_CHOICE_TYPES = (type(None), bool, int, float, str)


@dataclass(frozen=True, slots=True)
class FloatRange:
    """Floats from ``low`` to ``high``; made by :func:`uniform` and :func:`loguniform`."""

    low: float
    high: float
    log: bool = False
    step: float | None = None


@dataclass(frozen=True, slots=True)
class IntRange:
    """Integers from ``low`` to ``high`` (both included); made by :func:`int_range`."""

    low: int
    high: int
    step: int = 1
    log: bool = False


@dataclass(frozen=True, slots=True)
class Choice:
    """One of ``values``; made by :func:`choice`."""

    values: tuple[Any, ...]


def uniform(low: float, high: float, *, step: float | None = None) -> FloatRange:
    """Floats in ``[low, high]``; with ``step``, only ``low + k * step``.

    Example:
        >>> uniform(0.0, 0.5)
        FloatRange(low=0.0, high=0.5, log=False, step=None)
    """
    return FloatRange(low, high, False, step)


def loguniform(low: float, high: float) -> FloatRange:
    """Floats in ``[low, high]`` (both > 0), sampled evenly on a log scale.

    Example:
        >>> loguniform(1e-4, 1e-1).log
        True
    """
    return FloatRange(low, high, True)


def int_range(low: int, high: int, step: int = 1, *, log: bool = False) -> IntRange:
    """Integers in ``[low, high]`` (both included), ``step`` apart.

    Example:
        >>> int_range(2, 8, step=2)
        IntRange(low=2, high=8, step=2, log=False)
    """
    return IntRange(low, high, step, log)


def choice(values: Sequence[Any]) -> Choice:
    """One of ``values`` (each ``None``, a bool, an int, a float or a string).

    Example:
        >>> choice(["adam", "sgd"]).values
        ('adam', 'sgd')
    """
    return Choice(tuple(values) if isinstance(values, Sequence) else (values,))


def to_distributions(space: Any) -> dict[str, BaseDistribution]:
    """Check ``space`` and turn each spec into an Optuna distribution.

    Raises:
        InvalidInputError: ``space`` is empty or not a mapping, a name is not a valid
            param name, or a spec is malformed (the message names the parameter).
    """
    if not isinstance(space, Mapping) or not space:
        raise InvalidInputError(
            f"search_space must be a non-empty dict of parameter name -> spec, got {space!r:.80}; "
            "e.g. {'lr': loguniform(1e-4, 1e-1), 'depth': int_range(2, 8)}"
        )
    distributions = {}
    for name, spec in space.items():
        check_key("param", name)
        check_key("param", f"best.{name}")  # the parent run records it under this name
        distributions[name] = _distribution(name, spec)
    return distributions


def _distribution(name: str, spec: Any) -> BaseDistribution:
    from optuna import distributions as od

    if isinstance(spec, od.BaseDistribution):
        return spec
    if isinstance(spec, list):
        spec = Choice(tuple(spec))
    elif isinstance(spec, tuple) and len(spec) == 2 and all(map(_is_number, spec)):
        low, high = spec
        ints = isinstance(low, int) and isinstance(high, int)
        spec = IntRange(low, high) if ints else FloatRange(float(low), float(high))
    if isinstance(spec, Choice):
        return _categorical(name, spec)
    if isinstance(spec, IntRange):
        return _integers(name, spec)
    if isinstance(spec, FloatRange):
        return _floats(name, spec)
    raise _bad(name, f"cannot use {spec!r:.60} ({type(spec).__name__}) as a spec")


def _categorical(name: str, spec: Choice) -> BaseDistribution:
    from optuna.distributions import CategoricalDistribution

    if not spec.values:
        raise _bad(name, "choice([]) has nothing to choose from")
    odd = [v for v in spec.values if not isinstance(v, _CHOICE_TYPES)]
    if odd:
        raise _bad(
            name,
            f"choices must be None, bools, ints, floats or strings; got {odd[0]!r:.40} "
            f"({type(odd[0]).__name__}); choose a key instead and look the object up in "
            "the objective",
        )
    return CategoricalDistribution(spec.values)


def _integers(name: str, spec: IntRange) -> BaseDistribution:
    from optuna.distributions import IntDistribution

    low, high, step = spec.low, spec.high, spec.step
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, step)):
        raise _bad(name, f"int_range needs integers, got ({low!r}, {high!r}, step={step!r})")
    _check_order(name, low, high)
    if step < 1:
        raise _bad(name, f"int_range step must be >= 1, got {step}")
    if spec.log and (low < 1 or step != 1):
        raise _bad(name, "int_range(log=True) needs low >= 1 and step=1")
    return IntDistribution(low, high, log=spec.log, step=step)


def _floats(name: str, spec: FloatRange) -> BaseDistribution:
    from optuna.distributions import FloatDistribution

    low, high, step = spec.low, spec.high, spec.step
    if not (_is_number(low) and _is_number(high)) or not all(map(math.isfinite, (low, high))):
        raise _bad(name, f"the bounds must be finite numbers, got ({low!r}, {high!r})")
    _check_order(name, low, high)
    if spec.log and low <= 0:
        raise _bad(name, f"loguniform needs low > 0, got {low!r}; e.g. loguniform(1e-5, 1.0)")
    if step is not None and (not _is_number(step) or not step > 0):
        raise _bad(name, f"uniform step must be a number > 0, got {step!r}")
    return FloatDistribution(float(low), float(high), log=spec.log, step=step)


def grid_values(distributions: Mapping[str, BaseDistribution]) -> dict[str, list[Any]]:
    """Every value of each parameter, for the grid sampler.

    Raises:
        InvalidInputError: a parameter has infinitely many values, or the grid is too big.
    """
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    grid: dict[str, list[Any]] = {}
    size = 1
    for name, dist in distributions.items():
        if isinstance(dist, CategoricalDistribution):
            values = list(dist.choices)
        elif isinstance(dist, IntDistribution):
            values = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, FloatDistribution) and dist.step is not None:
            count = round((dist.high - dist.low) / dist.step) + 1
            values = [dist.low + k * dist.step for k in range(count)]
        else:
            raise _bad(
                name,
                f"the grid sampler needs a finite set of values, but {dist} has infinitely "
                "many; use choice([...]), int_range(...) or uniform(low, high, step=...)",
            )
        grid[name] = values
        size *= len(values)
        if size > MAX_GRID:
            raise InvalidInputError(
                f"the grid has more than {MAX_GRID:,} points; use fewer values, or the 'tpe' "
                "or 'random' sampler"
            )
    return grid


def _check_order(name: str, low: float, high: float) -> None:
    if not low < high:
        raise _bad(
            name,
            f"low must be below high, got ({low!r}, {high!r}); for a fixed value use "
            f"choice([{low!r}])",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bad(name: str, problem: str) -> InvalidInputError:
    return InvalidInputError(
        f"search space parameter '{name}': {problem}; valid specs: {_EXAMPLE}",
        details={"parameter": name},
    )
