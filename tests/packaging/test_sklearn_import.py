"""Loading a scikit-learn package does not make skops list every estimator and ufunc (the
model server's cold start), and loopml's own trust check still decides what loads."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from loopml.packaging.package import save_package

PROBE = textwrap.dedent(
    """
    import json, sys
    from loopml.packaging.loading import load_package
    from loopml.errors import UntrustedTypesError
    model = load_package(sys.argv[1])
    refused = None
    try:
        load_package(sys.argv[2])
    except UntrustedTypesError as err:
        refused = err.details
    import skops.io._trusted_types as listed
    print(json.dumps({
        "estimators": len(listed.SKLEARN_ESTIMATOR_TYPE_NAMES),
        "ufuncs": len(listed.NUMPY_UFUNC_TYPE_NAMES) + len(listed.SCIPY_UFUNC_TYPE_NAMES),
        "listed_modules": [m for m in ("sklearn.gaussian_process", "sklearn.neural_network",
                                     "sklearn.semi_supervised") if m in sys.modules],
        "refused": refused,
        "predicts": model.predict([[0.0, 1.0]]).tolist(),
    }))
    """
)


def _untrusted(x: np.ndarray) -> np.ndarray:
    return x


def test_a_fresh_process_loads_a_model_without_listing_skops_defaults(tmp_path: Path) -> None:
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    save_package(LogisticRegression().fit(x, [0, 1, 0, 1]), tmp_path / "ok", input_example=x)
    save_package(FunctionTransformer(_untrusted), tmp_path / "bad", input_example=x)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "ok"), str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    probe = json.loads(result.stdout)
    assert probe["estimators"] == 0
    assert probe["ufuncs"] == 0
    assert probe["listed_modules"] == []  # listing estimators imports every estimator module
    assert probe["predicts"] == [0]
    assert probe["refused"] is not None  # the function the file names is still not trusted
    assert any("_untrusted" in name for name in probe["refused"]["types"])
