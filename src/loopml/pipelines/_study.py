"""Build the Optuna pieces of a search from names: sampler, pruner, direction, storage.

Samplers: ``tpe`` (default), ``random``, ``grid`` (every combination of the search
space's values), ``cmaes`` (needs the ``cmaes`` package). Pruners: ``none`` (default),
``median``, ``hyperband``, ``successive_halving``. An Optuna sampler or pruner object is
taken as it is.

Example:
    >>> check_direction("minimize")
    'minimize'
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError, MissingDependencyError, close_matches
from loopml.pipelines._search_space import grid_values

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

__all__ = [
    "DIRECTIONS",
    "PRUNERS",
    "SAMPLERS",
    "check_direction",
    "import_optuna",
    "journal_storage",
    "make_pruner",
    "make_sampler",
]

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("none", "median", "hyperband", "successive_halving")
DIRECTIONS = ("maximize", "minimize")


def import_optuna() -> Any:
    """The ``optuna`` module, or :class:`MissingDependencyError` with the install hint."""
    try:
        import optuna
    except ImportError as err:
        raise MissingDependencyError("optuna", "tune", "hyperparameter search") from err
    # Every trial is a tracked run; Optuna's per-trial INFO lines would only repeat that.
    if optuna.logging.get_verbosity() == optuna.logging.INFO:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def check_direction(direction: str) -> str:
    """``direction`` if it is ``maximize`` or ``minimize``."""
    if direction not in DIRECTIONS:
        raise InvalidInputError(_unknown("direction", direction, DIRECTIONS))
    return direction


def make_sampler(
    sampler: Any, distributions: Mapping[str, BaseDistribution], seed: int | None
) -> optuna.samplers.BaseSampler:
    """The sampler ``sampler`` names (``seed`` seeds it), or ``sampler`` itself."""
    import_optuna()
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    samplers = optuna.samplers
    factories: dict[str, Callable[[], optuna.samplers.BaseSampler]] = {
        "tpe": lambda: samplers.TPESampler(seed=seed),
        "random": lambda: samplers.RandomSampler(seed=seed),
        "grid": lambda: samplers.GridSampler(grid_values(distributions), seed=seed),
        "cmaes": lambda: _cmaes(seed),
    }
    factory = factories.get(sampler) if isinstance(sampler, str) else None
    if factory is None:
        raise InvalidInputError(
            _unknown("sampler", sampler, SAMPLERS) + ", or an optuna.samplers object"
        )
    return factory()


def _cmaes(seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    # Optuna imports cmaes only when it first samples: fail now, with the install hint.
    if importlib.util.find_spec("cmaes") is None:
        raise MissingDependencyError("cmaes", "tune", "the 'cmaes' sampler")
    return optuna.samplers.CmaEsSampler(seed=seed)


def make_pruner(pruner: Any) -> optuna.pruners.BasePruner:
    """The pruner ``pruner`` names, or ``pruner`` itself."""
    import_optuna()
    import optuna

    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    factories: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
        "none": optuna.pruners.NopPruner,
        "median": optuna.pruners.MedianPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    }
    factory = factories.get(pruner) if isinstance(pruner, str) else None
    if factory is None:
        raise InvalidInputError(
            _unknown("pruner", pruner, PRUNERS) + ", or an optuna.pruners object"
        )
    return factory()


def journal_storage(path: Path) -> optuna.storages.BaseStorage:
    """An Optuna journal in the file ``path``: shared by processes on one machine."""
    import_optuna()
    import optuna

    path.parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend

    backend = JournalFileBackend(str(path))
    return optuna.storages.JournalStorage(backend)


def _unknown(what: str, value: Any, choices: tuple[str, ...]) -> str:
    message = f"unknown {what} {value!r}"
    similar = close_matches(value, choices, limit=1) if isinstance(value, str) else []
    if similar:
        message += f"; did you mean: {', '.join(similar)}?"
    return message + f"; use one of: {', '.join(choices)}"
