"""Automatic logging for ML libraries (scikit-learn today).

Example:
    >>> import loopml
    >>> loopml.autolog()  # doctest: +SKIP
    >>> RandomForestClassifier().fit(X, y)  # doctest: +SKIP  # a run with params, metrics, model
"""

from __future__ import annotations

__all__ = ["autolog"]


def autolog(
    *,
    log_models: bool = True,
    log_training_metrics: bool = True,
    disable: bool = False,
) -> None:
    """Log every scikit-learn ``fit``: params, training metrics and the fitted model.

    A ``fit`` outside an active run gets a run of its own; inside one it logs there.
    Nested fits (a pipeline's steps, a search's candidates) are not logged twice.

    Args:
        log_models: store the fitted estimator (skops format) under ``model/``.
        log_training_metrics: score the estimator on its training data.
        disable: undo a previous ``autolog()``.
    """
    from loopml.tracking.autolog import sklearn

    if disable:
        sklearn.disable()
    else:
        sklearn.enable(log_models=log_models, log_training_metrics=log_training_metrics)
