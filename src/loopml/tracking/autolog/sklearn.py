"""scikit-learn autologging: wraps ``fit`` of every estimator class.

The wrapper runs the real ``fit`` first and logs afterwards, so a logging problem
never changes what the user's code computes; it is reported as a warning instead.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loopml.errors import ConflictError, InvalidInputError, LoopmlError, MissingDependencyError
from loopml.tracking.fluent import ActiveRun, active_run, start_run
from loopml.tracking.models import RunStatus

__all__ = ["disable", "enable", "training_metrics"]

log = logging.getLogger("loopml.autolog")
_MAX_PARAM = 500


@dataclass
class _Config:
    log_models: bool = True
    log_training_metrics: bool = True


_config = _Config()
_patched: dict[type, Callable[..., Any]] = {}
_local = threading.local()
_lock = threading.Lock()


def enable(*, log_models: bool = True, log_training_metrics: bool = True) -> None:
    """Wrap ``fit`` on every scikit-learn estimator class (idempotent)."""
    try:
        import sklearn  # noqa: F401
    except ImportError as err:
        raise MissingDependencyError("scikit-learn", "sklearn", "loopml.autolog()") from err
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    from loopml.packaging.flavors.sklearn import all_estimators

    _config.log_models = log_models
    _config.log_training_metrics = log_training_metrics
    classes = [cls for _, cls in all_estimators()] + [Pipeline, GridSearchCV, RandomizedSearchCV]
    with _lock:
        for cls in classes:
            # Patch where ``fit`` is defined: often a private base (BaseForest) of the public class.
            owner: Any = next((c for c in cls.__mro__ if "fit" in c.__dict__), None)
            if owner is None or owner in _patched:
                continue
            original = owner.__dict__["fit"]
            _patched[owner] = original
            owner.fit = _wrap(original)


def disable() -> None:
    """Restore every original ``fit``."""
    with _lock:
        for cls, original in _patched.items():
            cls.fit = original  # type: ignore[attr-defined]
        _patched.clear()


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_local, "depth", 0) > 0:
            return original(self, *args, **kwargs)
        _local.depth = 1
        try:
            return _logged_fit(original, self, args, kwargs)
        finally:
            _local.depth = 0

    fit.__loopml_autolog__ = True  # type: ignore[attr-defined]
    return fit


def _logged_fit(original: Callable[..., Any], estimator: Any, args: Any, kwargs: Any) -> Any:
    outer = active_run()
    run = outer or start_run(name=type(estimator).__name__)
    try:
        result = original(estimator, *args, **kwargs)
    except KeyboardInterrupt:
        if outer is None:
            run.end(RunStatus.KILLED)
        raise
    except BaseException:
        if outer is None:
            run.end(RunStatus.FAILED)
        raise
    try:
        _log_fitted(run, estimator, args, kwargs)
    except LoopmlError as err:
        log.warning("autolog could not log %s: %s", type(estimator).__name__, err)
    finally:
        if outer is None:
            run.end(RunStatus.FINISHED)
    return result


def _log_fitted(run: ActiveRun, estimator: Any, args: Any, kwargs: Any) -> None:
    run.set_tags(
        {
            "estimator_name": type(estimator).__name__,
            "estimator_class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
            "loopml.autolog": "sklearn",
        }
    )
    try:
        run.log_params(_params(estimator))
    except ConflictError as err:
        log.warning("autolog kept the params already in run %s: %s", run.id, err)
    x = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if _config.log_training_metrics and x is not None and y is not None:
        values = training_metrics(estimator, x, y, kwargs.get("sample_weight"))
        if values:
            run.log_metrics({f"training_{k}": v for k, v in values.items()})
    if _config.log_models:
        _log_model(run, estimator, x)


def _params(estimator: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in estimator.get_params(deep=True).items():
        text = type(value).__name__ if hasattr(value, "get_params") else str(value)
        out[key] = text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 1] + "…"
    return out


def training_metrics(estimator: Any, x: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
    """Metrics of a fitted estimator on data: classification or regression ones by its kind."""
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    try:
        if is_classifier(estimator):
            predicted = estimator.predict(x)
            w = {"sample_weight": sample_weight}
            out["accuracy_score"] = metrics.accuracy_score(y, predicted, **w)
            for name, fn in (
                ("precision", metrics.precision_score),
                ("recall", metrics.recall_score),
                ("f1", metrics.f1_score),
            ):
                out[f"{name}_score"] = fn(y, predicted, average="weighted", zero_division=0, **w)
            if hasattr(estimator, "predict_proba"):
                proba = estimator.predict_proba(x)
                out["log_loss"] = metrics.log_loss(y, proba, labels=estimator.classes_, **w)
                if proba.shape[1] == 2:
                    out["roc_auc"] = metrics.roc_auc_score(y, proba[:, 1], **w)
                else:
                    out["roc_auc"] = metrics.roc_auc_score(
                        y, proba, multi_class="ovr", labels=estimator.classes_, **w
                    )
        elif is_regressor(estimator):
            predicted = estimator.predict(x)
            w = {"sample_weight": sample_weight}
            mse = metrics.mean_squared_error(y, predicted, **w)
            out.update(
                mean_squared_error=mse,
                root_mean_squared_error=float(mse) ** 0.5,
                mean_absolute_error=metrics.mean_absolute_error(y, predicted, **w),
                r2_score=metrics.r2_score(y, predicted, **w),
            )
        elif hasattr(estimator, "score"):
            out["score"] = estimator.score(x, y)
    except (ValueError, TypeError, AttributeError) as err:
        log.warning("autolog could not compute training metrics: %s", err)
    return {k: float(v) for k, v in out.items()}


def _log_model(run: ActiveRun, estimator: Any, x: Any) -> None:
    """Log the fitted estimator as the run's ``model`` package, X's first rows as example."""
    sparse = hasattr(x, "toarray") and hasattr(x, "nnz")
    if x is not None and not sparse:
        try:
            run.log_model(estimator, "model", input_example=x)
            return
        except InvalidInputError as err:  # X has no example form (say, a list of dicts)
            log.info("autolog logs %s without an input example: %s", type(estimator).__name__, err)
    run.log_model(estimator, "model")
