"""Batch inference from the SDK: ``loopml.predict_batch``, on the fluent API's settings.

Example:
    >>> import loopml
    >>> loopml.predict_batch("models:/churn@production", "customers.parquet",
    ...                      "scores.parquet", keep=["customer_id"]).rows  # doctest: +SKIP
    120000
"""

from __future__ import annotations

import os
from typing import Any

from loopml._sdk.models import registry_client
from loopml.serving.batch import BatchResult
from loopml.serving.batch import predict_batch as _predict_batch

__all__ = ["predict_batch"]


def predict_batch(
    model: str,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    **options: Any,
) -> BatchResult:
    """Predict with ``model`` on every row of ``input`` into the Parquet file ``output``.

    The store is the one ``loopml.configure`` / ``LOOPML_*`` name. Options (``chunk_size``,
    ``keep``, ``runtime``, ``device``, ``experiment``, ``output_dataset``, ``track``,
    ``progress``) are :func:`loopml.serving.batch.predict_batch`'s.

    Example:
        >>> result = loopml.predict_batch("models:/churn/3", "datasets:/customers@latest",
        ...                               "scores.parquet", runtime="onnx")  # doctest: +SKIP
        >>> result.run_id  # doctest: +SKIP
        '01J…'
    """
    options.setdefault("settings", registry_client().settings)
    return _predict_batch(model, input, output, **options)
