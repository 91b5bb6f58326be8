"""A monitor's reference: where it comes from, and its sketch, made once and stored.

The reference of a monitor on a deployment is ``--reference`` (``datasets:/NAME/VERSION``
or a Parquet/CSV file) or the training data of the version the deployment serves, found
through lineage: the run that produced the version, and the dataset version it consumed
(in the ``training`` context first). It is sketched once
(:func:`loopml.data.sketch.sketch_table`), and so are the model's predictions on up to
50,000 of its rows (prediction drift); :class:`References` is what is stored.

Example:
    >>> uri = training_data(store, "churn", 3)  # doctest: +SKIP
    'datasets:/churn_train/2'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from loopml.config import Settings
from loopml.data.schema import DataSchema
from loopml.data.sketch import ReferenceSketch, sketch_table
from loopml.errors import InvalidInputError, NotFoundError
from loopml.monitoring.models import MonitorConfig
from loopml.store import Store
from loopml.store.lineage import consumed_by_producers
from loopml.store.schema import deployments
from loopml.uris import is_uri, model_uri, node_uri, parse_uri

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "REFERENCE_OWNER",
    "References",
    "load_reference",
    "model_importance",
    "reference_nodes",
    "served",
    "signature_inputs",
    "sketch_reference",
    "training_data",
    "window_schema",
]

REFERENCE_OWNER = "monitor_reference"
"""``artifact_files.owner_kind`` of a monitor's stored sketch (gc keeps it)."""
_PREDICTION_ROWS = 50_000  # reference rows the model predicts on for prediction drift
_TRAINING = ("training", "train")


class References:
    """A monitor's stored reference: the sketch of its inputs and of the model's outputs,
    and the data schema windows are checked against (``None``: the sketch alone)."""

    __slots__ = ("inputs", "notes", "outputs", "schema")

    def __init__(
        self,
        inputs: ReferenceSketch,
        outputs: ReferenceSketch | None,
        notes: Sequence[str],
        schema: DataSchema | None = None,
    ) -> None:
        self.inputs, self.outputs, self.notes = inputs, outputs, tuple(notes)
        self.schema = schema

    def to_bytes(self) -> bytes:
        body = {
            "inputs": self.inputs.to_dict(),
            "outputs": None if self.outputs is None else self.outputs.to_dict(),
            "notes": list(self.notes),
            "schema": None if self.schema is None else self.schema.to_dict(),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> References:
        try:
            body = json.loads(data)
            outputs, schema = body.get("outputs"), body.get("schema")
            return cls(
                ReferenceSketch.from_dict(body["inputs"], source=source),
                None if outputs is None else ReferenceSketch.from_dict(outputs, source=source),
                [str(note) for note in body.get("notes", [])],
                None if schema is None else DataSchema.from_dict(schema),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise InvalidInputError(
                f"the stored reference {source} is not a monitor reference ({err}); "
                "create the monitor again (loopml monitor create NAME --replace)"
            ) from err


def window_schema(schema: DataSchema | str | Path, features: Sequence[str]) -> DataSchema:
    """The checks a window runs from a data schema (a file or a loaded one): the checks of
    the watched ``features`` (the dataset's other columns, such as its label, are not sent
    to a model) and the extra-column rule, without drift (the monitor measures drift
    itself) and without row counts or uniqueness (a window is a slice, not a dataset)."""
    from loopml.data.schema import load_schema

    loaded = schema if isinstance(schema, DataSchema) else load_schema(schema)
    watched = set(features)
    columns = tuple(
        replace(column, unique=False) for column in loaded.columns if column.name in watched
    )
    return replace(loaded, columns=columns, drift=None, reference_profile=None,
                   min_rows=None, max_rows=None, unique_keys=())  # fmt: skip


def served(conn: Connection, deployment: str, settings: Settings) -> tuple[str, int]:
    """The model and version a deployment's main route serves now."""
    row = (
        conn.execute(select(deployments).where(deployments.c.name == deployment)).mappings().first()
    )
    if row is None:
        known = (
            conn.execute(select(deployments.c.name).order_by(deployments.c.name)).scalars().all()
        )
        raise NotFoundError(
            "deployment",
            deployment,
            hint=f"create it with `loopml deployments create`; deployments: {list(known)[:20]}",
        )
    routes = sorted(row["policy"].get("routes") or [], key=lambda r: -int(r.get("weight", 0)))
    if not routes:
        raise InvalidInputError(f"deployment {deployment!r} has no route to a model version")
    route = routes[0]
    if route.get("version") is not None:
        return str(row["model"]), int(route["version"])
    from loopml.registry.client import RegistryClient

    found = RegistryClient(settings).resolve(model_uri(row["model"], alias=route["alias"]))
    return found.model, found.version


def reference_nodes(uri: str) -> list[tuple[str, str]]:
    if not is_uri(uri, "datasets"):
        return []
    parsed = parse_uri(uri)
    if parsed.version is None:
        return []
    return [("dataset_version", f"{parsed.name}/{parsed.version}")]


def signature_inputs(signature: Any) -> list[str] | None:
    inputs = getattr(signature, "inputs", None)
    if not isinstance(inputs, list | tuple) or not inputs:
        return None
    names = [getattr(spec, "name", None) for spec in inputs]
    return [str(n) for n in names] if all(names) else None


def _sketch_predictions(
    loaded: Any, table: pa.Table, names: Sequence[str]
) -> ReferenceSketch | None:
    """The sketch of the model's 1-D outputs on (a sample of) the reference."""
    import numpy as np
    import pandas as pd

    rows = table.select([n for n in names if n in table.column_names])
    if rows.num_rows > _PREDICTION_ROWS:
        picked = np.random.default_rng(0).choice(rows.num_rows, _PREDICTION_ROWS, replace=False)
        rows = rows.take(np.sort(picked))
    outputs = _named_outputs(loaded.predict(rows.to_pandas()), loaded.signature)
    kept = {f"output.{k}": v for k, v in outputs.items() if v.ndim == 1}
    return sketch_table(pd.DataFrame(kept)) if kept else None


def _named_outputs(result: Any, signature: Any) -> dict[str, Any]:
    """A model's answer as named 1-D-or-more arrays (the payload log's output names)."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return {str(c): result[c].to_numpy() for c in result.columns}
    if isinstance(result, Mapping):
        return {str(k): np.asarray(v) for k, v in result.items()}
    outputs = getattr(signature, "outputs", None)
    name = getattr(outputs, "name", None) if outputs is not None else None
    return {str(name or "predict"): np.asarray(result)}


def _context_rank(context: str | None) -> int:
    """Training inputs first, then inputs of no stated use, then the rest."""
    return 0 if context in _TRAINING else 1 if context is None else 2


def training_data(store: Store, model: str, version: int) -> str:
    """The dataset version the run that produced ``model/version`` trained on."""
    node = ("model_version", f"{model}/{version}")
    with store.read() as conn:
        consumed = [
            (_context_rank((attributes or {}).get("context")), dataset_version)
            for dataset_version, attributes in consumed_by_producers(conn, node)
        ]
    if not consumed:
        raise InvalidInputError(
            f"model {model!r} version {version} has no training data in its lineage (the "
            "run that logged it consumed no dataset version); pass the reference: "
            "loopml monitor create DEPLOYMENT --reference datasets:/NAME/VERSION"
        )
    found = node_uri("dataset_version", min(consumed)[1])
    assert found is not None
    return found


def load_reference(uri: str, settings: Settings) -> pa.Table:
    """The reference table: a ``datasets:/`` table version, or a Parquet or CSV file."""
    import pyarrow as pa

    if is_uri(uri, "datasets"):
        from loopml.data.versions import DatasetClient

        table = DatasetClient(settings).load(uri, as_arrow=True)
        if not isinstance(table, pa.Table):
            raise InvalidInputError(
                f"reference {uri} is a folder of files, not a table; pass a table dataset"
            )
        return table
    path = Path(uri)
    if not path.is_file():
        raise InvalidInputError(
            f"reference {uri!r} is neither datasets:/NAME/VERSION nor a file; pass one"
        )
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pv

        return pv.read_csv(path)
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise InvalidInputError(f"reference {uri!r} is not a Parquet or CSV file ({err})") from err


def sketch_reference(
    table: pa.Table,
    config: MonitorConfig,
    model: str | None,
    version: int | None,
    predict: bool,
    settings: Settings,
) -> tuple[References, MonitorConfig]:
    """Sketch the reference (and the model's predictions on it); the config gets the
    features watched: as configured, else the model's named inputs, else every column
    but the target."""
    missing = sorted(set(config.features) - set(table.column_names))
    if missing:
        raise InvalidInputError(
            f"features {missing} are not columns of the reference; it has {table.column_names[:30]}"
        )
    notes: list[str] = []
    loaded = None if model is None or version is None else _load(model, version, settings, notes)
    inputs = None if loaded is None else signature_inputs(loaded.signature)
    if config.target is not None and config.target not in table.column_names:
        config = replace(config, target=None)
    if not config.features:
        named = [n for n in inputs or () if n in table.column_names]
        features = named or [c for c in table.column_names if c != config.target]
        config = replace(config, features=tuple(features))
    if not config.importance and loaded is not None and inputs:
        weights = model_importance(loaded.model, inputs)
        if weights:
            notes.append(
                "dataset drift is weighted by the model's feature importances "
                "(feature_importances_); pass importance to weigh otherwise"
            )
            config = replace(config, importance=weights)
    columns = list(config.features) + ([config.target] if config.target else [])
    inputs_sketch = sketch_table(table, columns=columns)
    outputs_sketch = None
    if predict and loaded is not None:
        try:
            outputs_sketch = _sketch_predictions(loaded, table, inputs or config.features)
        except Exception as err:  # the user's model: a note, not a failure
            notes.append(
                f"prediction drift is off: the model could not predict on the "
                f"reference ({type(err).__name__}: {err})"
            )
    return References(inputs_sketch, outputs_sketch, notes), config


def _load(model: str, version: int, settings: Settings, notes: list[str]) -> Any:
    """The served version's package, or ``None`` with a note saying why not."""
    from loopml.registry.client import RegistryClient
    from loopml.registry.loading import load_version

    try:
        return load_version(
            RegistryClient(settings).resolve(model_uri(model, version)), settings=settings
        )
    except Exception as err:  # the user's package: a note, not a failure
        notes.append(
            f"the model could not be loaded, so its inputs are not known and "
            f"prediction drift is off ({type(err).__name__}: {err})"
        )
        return None


def model_importance(model: Any, inputs: Sequence[str]) -> dict[str, float]:
    """The model's own feature importances by input name (``feature_importances_`` of a
    tree ensemble, or of a scikit-learn pipeline's last step), normalised to sum to 1;
    empty when it has none that match its inputs.

    Example:
        >>> class Forest:
        ...     feature_importances_ = [3.0, 1.0]
        >>> model_importance(Forest(), ["tenure", "spend"])
        {'tenure': 0.75, 'spend': 0.25}
    """
    found = getattr(model, "feature_importances_", None)
    steps = getattr(model, "steps", None)
    if found is None and isinstance(steps, list) and steps:
        found = getattr(steps[-1][-1], "feature_importances_", None)
    try:
        values = [float(v) for v in found] if found is not None else []
    except (TypeError, ValueError):
        return {}
    total = sum(v for v in values if v > 0)
    if len(values) != len(inputs) or not total or any(not v >= 0 for v in values):
        return {}
    return {str(name): value / total for name, value in zip(inputs, values, strict=True)}
