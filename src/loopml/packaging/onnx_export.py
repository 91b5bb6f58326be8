"""ONNX beside the native model: converted, checked on the input example, then stored.

:func:`add_onnx` converts the model of a package (scikit-learn with skl2onnx, LightGBM and
XGBoost with onnxmltools) into ``model.onnx``, runs the graph on the package's input
example with onnxruntime and compares it with the native model:

* class labels (``predict`` of a classifier) must be equal, row for row;
* numbers (regression outputs, ``predict_proba``) must agree within
  ``|onnx - native| <= ATOL + RTOL * |native|`` (the graph computes in float32).

Only then is ``model.onnx`` added to the package: ``model.json`` gains an ``onnx`` section
(the file, how outputs map back, the converter, the largest difference measured) and the
file's digest, so verification covers it like every other file. The native model stays
the package's model; ``load_model(uri, runtime="onnx")`` runs the graph instead.

A model that cannot be converted (no converter for its type, no input example,
non-numeric input) or whose graph answers differently is refused with
:class:`OnnxConversionError` naming the estimator and the difference; with
``required=False`` the package is left as it was and the reason is given back.

Example:
    >>> report = add_onnx(folder, required=True)  # doctest: +SKIP
    >>> report.added, report.max_abs_diff  # doctest: +SKIP
    (True, 5.9e-08)
"""

from __future__ import annotations

import importlib.metadata
import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from loopml.errors import InvalidInputError, LoopmlError, quote
from loopml.packaging._digests import file_digests
from loopml.packaging._example import decode_example
from loopml.packaging._manifest import PackageManifest
from loopml.packaging.flavors import get_flavor
from loopml.packaging.onnx_runtime import (
    ONNX_FILE,
    OnnxRuntimeClassifier,
    OnnxRuntimePredictor,
    as_matrix,
)
from loopml.packaging.package import MANIFEST, read_manifest
from loopml.packaging.signature import check_input

__all__ = [
    "ATOL",
    "CONVERTIBLE",
    "RTOL",
    "OnnxConversionError",
    "OnnxMode",
    "OnnxReport",
    "add_onnx",
    "onnx_mode",
]

RTOL = 1e-4
"""Relative tolerance between the graph's numbers and the native model's."""
ATOL = 1e-5
"""Absolute tolerance (for values near zero, such as small probabilities)."""
CONVERTIBLE = ("sklearn", "lightgbm", "xgboost")
"""Flavors with an ONNX converter."""

OnnxMode = Literal["off", "required", "if-possible"]
_MODES: tuple[OnnxMode, ...] = ("off", "required", "if-possible")
_BOOSTER_KINDS = ("classifier", "regressor")


class OnnxConversionError(InvalidInputError):
    """The model could not be converted to ONNX, or its graph answers differently."""

    code = "onnx_conversion"


@dataclass(frozen=True, slots=True)
class OnnxReport:
    """What :func:`add_onnx` did.

    Attributes:
        added: the package now holds ``model.onnx`` (or already did).
        reason: why it was not added (``None`` when it was).
        manifest: the package's manifest afterwards.
        max_abs_diff: the largest difference measured on the input example.
    """

    added: bool
    reason: str | None
    manifest: PackageManifest
    max_abs_diff: float | None = None


def onnx_mode(value: bool | str | None) -> OnnxMode:
    """``True`` -> ``"required"``, ``False``/``None`` -> ``"off"``, or a mode by name.

    Raises:
        InvalidInputError: any other value.

    Example:
        >>> onnx_mode(True), onnx_mode("if-possible")
        ('required', 'if-possible')
    """
    if value is None or value is False:
        return "off"
    if value is True:
        return "required"
    if isinstance(value, str) and value in _MODES:
        return value
    raise InvalidInputError(
        f"onnx must be True, False, 'required' or 'if-possible', got {quote(value)}"
    )


def add_onnx(folder: str | Path, *, required: bool = True) -> OnnxReport:
    """Convert the model in the package ``folder`` to ONNX, check it, and add it.

    ``folder`` must be a verified package the caller may change (a fresh one, or a copy).

    Args:
        folder: the package folder.
        required: raise when the model cannot be converted or the graph differs; with
            ``False`` the package is left unchanged and :attr:`OnnxReport.reason` says why.

    Raises:
        OnnxConversionError: with ``required``: no converter fits, no input example,
            non-numeric input, or outputs that differ (the message names the estimator
            and the largest difference).
        MissingDependencyError: with ``required``: skl2onnx / onnxmltools / onnxruntime
            is not installed.
    """
    root = Path(folder)
    manifest = read_manifest(root)
    if manifest.onnx is not None or manifest.flavor == "onnx":  # the graph is already there
        return OnnxReport(True, None, manifest)
    try:
        section, largest = _convert_and_check(root, manifest)
    except (OnnxConversionError, ImportError, LoopmlError) as err:
        (root / ONNX_FILE).unlink(missing_ok=True)
        if required:
            raise
        return OnnxReport(False, str(err), manifest)
    updated = replace(manifest, onnx=section, files=file_digests(root, skip=MANIFEST))
    (root / MANIFEST).write_bytes((json.dumps(updated.to_dict(), indent=2) + "\n").encode())
    return OnnxReport(True, None, read_manifest(root), largest)


def _convert_and_check(root: Path, manifest: PackageManifest) -> tuple[dict[str, Any], float]:
    estimator = manifest.model_class or manifest.flavor
    if manifest.flavor not in CONVERTIBLE:
        raise OnnxConversionError(
            f"{estimator} (flavor {manifest.flavor}) has no ONNX converter; ONNX conversion "
            f"covers the {', '.join(CONVERTIBLE)} flavors"
        )
    if manifest.input_example is None:
        raise OnnxConversionError(
            f"{estimator} has no input example to check its ONNX graph against; log the "
            "model with input_example= (a few rows of input)"
        )
    example = decode_example(json.loads((root / manifest.input_example).read_text()))
    if manifest.signature is not None:
        example = check_input(manifest.signature, example)
    matrix = as_matrix(example, f"{estimator}'s input example")
    native = get_flavor(manifest.flavor).load(root, manifest.flavor_options, trusted=())
    graph, converter, outputs = _convert(manifest, root, native, matrix.shape[1])
    (root / ONNX_FILE).write_bytes(graph.SerializeToString())
    section = {
        "file": ONNX_FILE,
        "input": "X",
        "features": int(matrix.shape[1]),
        "converter": converter,
        "opset": {item.domain or "ai.onnx": int(item.version) for item in graph.opset_import},
        "requirements": [_pin("onnxruntime")],
        **outputs,
    }
    try:
        largest = _check(estimator, native, manifest, example, section, root)
    except LoopmlError:
        raise
    except Exception as err:  # onnxruntime (or the model) failed on the example
        raise OnnxConversionError(
            f"{estimator}'s ONNX graph could not be checked on the input example "
            f"({type(err).__name__}: {quote(str(err), 300)})"
        ) from err
    section["check"] = {
        "rows": int(matrix.shape[0]),
        "rtol": RTOL,
        "atol": ATOL,
        "max_abs_diff": largest,
    }
    return section, largest


def _convert(
    manifest: PackageManifest, root: Path, native: Any, features: int
) -> tuple[Any, str, dict[str, Any]]:
    """The graph, the converter that made it, and how its outputs map to predict/proba."""
    with warnings.catch_warnings():  # converters warn about their own internals
        warnings.simplefilter("ignore")
        try:
            if manifest.flavor == "sklearn":
                return _from_sklearn(native, features)
            return _from_booster(manifest, root, features)
        except (ImportError, OnnxConversionError):
            raise
        except Exception as err:  # the converter's own failure: an unsupported model
            raise OnnxConversionError(
                f"{manifest.model_class} could not be converted to ONNX "
                f"({type(err).__name__}: {quote(str(err), 300)})"
            ) from err


def _from_sklearn(estimator: Any, features: int) -> tuple[Any, str, dict[str, Any]]:
    from loopml.packaging._optional import require

    skl2onnx = require("skl2onnx", "skl2onnx", "onnx", "converting a scikit-learn model")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.base import BaseEstimator, is_classifier

    if not isinstance(estimator, BaseEstimator):  # a transformer, wrapped to "predict"
        raise OnnxConversionError(
            f"{type(getattr(estimator, 'estimator', estimator)).__qualname__} has no predict "
            "(a transformer); ONNX conversion "
            "covers models that predict"
        )
    classifier = is_classifier(estimator)
    graph = skl2onnx.convert_sklearn(
        estimator,
        initial_types=[("X", FloatTensorType([None, features]))],
        options={"zipmap": False} if classifier else None,
    )
    names = [output.name for output in graph.graph.output]
    mapping = {"predict_output": names[0], "classes": None}
    mapping["proba_output"] = names[1] if classifier and len(names) > 1 else None
    labels = getattr(estimator, "classes_", None)
    if classifier and labels is not None:  # names the probability columns, as natively
        mapping["class_labels"] = np.asarray(labels).tolist()
    return graph, f"skl2onnx=={skl2onnx.__version__}", mapping


def _from_booster(
    manifest: PackageManifest, root: Path, features: int
) -> tuple[Any, str, dict[str, Any]]:
    from loopml.packaging._optional import require

    tools = require("onnxmltools", "onnxmltools", "onnx", "converting a boosted-tree model")
    from onnxmltools.convert.common.data_types import FloatTensorType

    options = manifest.flavor_options
    kind = options.get("kind")
    if kind not in _BOOSTER_KINDS or options.get("objective") in _LABEL_OBJECTIVES:
        what = f"objective {options.get('objective')}" if kind == "classifier" else kind
        raise OnnxConversionError(
            f"{manifest.model_class} ({what}) has no ONNX conversion here; log the "
            "scikit-learn wrapper (a classifier with probabilities, or a regressor)"
        )
    types = [("X", FloatTensorType([None, features]))]
    path = str(root / options.get("file", ""))
    if manifest.flavor == "lightgbm":
        import lightgbm as lgb

        booster = lgb.Booster(model_file=path)
        graph = tools.convert_lightgbm(booster, initial_types=types, zipmap=False)
    else:
        import xgboost as xgb

        wrapper = xgb.XGBClassifier() if kind == "classifier" else xgb.XGBRegressor()
        wrapper.load_model(path)
        # The converter names features f0, f1, …; the graph takes columns by position.
        wrapper.get_booster().feature_names = None
        graph = tools.convert_xgboost(wrapper, initial_types=types)
    names = [output.name for output in graph.graph.output]
    classifier = kind == "classifier"
    mapping = {
        # A booster's graph gives class indices; the package's labels come from its options,
        # and predict is the likeliest label, as the native classifier decides.
        "predict_output": None if classifier else names[0],
        "proba_output": names[1] if classifier else None,
        "classes": options.get("classes") if classifier else None,
    }
    return graph, f"onnxmltools=={tools.__version__}", mapping


_LABEL_OBJECTIVES = ("multi:softmax", "binary:hinge", "binary:logitraw")


def _check(
    estimator: str,
    native: Any,
    manifest: PackageManifest,
    example: Any,
    section: dict[str, Any],
    root: Path,
) -> float:
    """The largest difference between graph and native model; refuses any that is too big."""
    expected = np.asarray(native.predict(example))
    section["predict_dtype"] = expected.dtype.str if expected.dtype != object else "object"
    section["predict_ndim"] = int(expected.ndim)
    has_proba = manifest.predict_proba and callable(getattr(native, "predict_proba", None))
    if not has_proba:
        section["proba_output"] = None
    graph = OnnxRuntimePredictor.load(root, section, device="cpu")
    largest = _compare(estimator, "predict", expected, graph.predict(example))
    if isinstance(graph, OnnxRuntimeClassifier):
        wanted = np.asarray(native.predict_proba(example))
        got = graph.predict_proba(example)
        largest = max(largest, _compare(estimator, "predict_proba", wanted, got))
    return largest


def _compare(estimator: str, what: str, expected: Any, got: Any) -> float:
    expected, got = np.asarray(expected), np.asarray(got)
    if expected.shape != got.shape:
        raise OnnxConversionError(
            f"{estimator}'s ONNX graph gives {what} of shape {got.shape}, the native model "
            f"{expected.shape}; it is not registered with ONNX"
        )
    if expected.dtype.kind not in "fc":  # labels: equal, row for row
        pairs = zip(expected.tolist(), got.tolist(), strict=True)
        differ = [i for i, (a, b) in enumerate(pairs) if a != b]
        if differ:
            row = differ[0]
            raise OnnxConversionError(
                f"{estimator}'s ONNX graph predicts other labels than the native model on "
                f"{len(differ)} of {len(expected)} example rows (row {row}: "
                f"{expected.tolist()[row]!r} != {got.tolist()[row]!r}); it is not "
                "registered with ONNX"
            )
        return 0.0
    want, have = expected.astype(np.float64), got.astype(np.float64)
    finite = np.isfinite(want) & np.isfinite(have)
    largest = float(np.abs(have[finite] - want[finite]).max()) if finite.any() else 0.0
    if not np.isclose(have, want, rtol=RTOL, atol=ATOL, equal_nan=True).all():
        raise OnnxConversionError(
            f"{estimator}'s ONNX graph differs from the native model in {what} by up to "
            f"{largest:.3g} (allowed: {ATOL:g} + {RTOL:g} x |value|; NaN only where the "
            "native model gives NaN); it is not registered with ONNX"
        )
    return largest


def _pin(distribution: str) -> str:
    try:
        return f"{distribution}=={importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return distribution
