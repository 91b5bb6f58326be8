"""Online feature lookup: a request carries entity keys, the server adds the features.

Which features a model needs is known from training: a training set built inside a run
records, on the run's lineage, the column each feature became
(:meth:`~loopml.features.FeatureStore.training_features`), and a model logged in that run
names the run in its package (``source_run``). So for a model with a table signature,
every signature column that training filled from the feature store is looked up online
under the same reference; every other column (join keys the model takes, request-time
values) must come with the request. When the features were fetched in another run (a
pipeline step, a notebook), declare them instead: ``features=["driver_stats:trips", ...]``
(for a deployment, its list of feature references), matched to the signature by column
name as :meth:`~loopml.features.FeatureStore.get_training_set` names them.

Per request, :meth:`FeatureLookup.enrich` takes the rows (records, columns or a
DataFrame), reads every feature of every row in one batched online-store call, and
returns the model's input (a DataFrame in signature order) and the values it looked up
(for the payload log). The rules:

- a row without a join key (or with a null one), a request field an on-demand view needs,
  or a column the model takes that is not a feature: :class:`InvalidInputError` (400)
  naming each missing name and the rows;
- an entity the online store does not know (or whose value is older than the view's TTL):
  its features are null. A null goes to the model where its signature column can hold one
  (``double``/``float`` as NaN, ``string``, ``binary``, ``datetime``); for ``long``,
  ``integer`` and ``boolean`` columns it is an :class:`InvalidInputError` naming the
  feature and the entity (a guessed value would be a silent wrong answer);
- a request that already carries every input of the model is used as it is (no lookup),
  so clients that send full rows keep working; otherwise looked-up values replace any
  feature column the request carries.

:meth:`FeatureLookup.enrich` blocks on the online store: call it from a thread
(``await asyncio.to_thread(lookup.enrich, rows)``).

Example:
    >>> lookup = FeatureLookup.for_model(loaded, FeatureStore())  # doctest: +SKIP
    >>> model_input, features = lookup.enrich([{"driver_id": 1001}])  # doctest: +SKIP
    >>> features  # doctest: +SKIP
    {'trips': [12], 'rating': [4.8]}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.errors import InvalidInputError
from loopml.features import FeatureStore, FeatureUse
from loopml.packaging.loading import LoadedModel
from loopml.packaging.signature import ColumnSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FeatureLookup"]

log = logging.getLogger("loopml.serving")

_NULLABLE = frozenset({"double", "float", "string", "binary", "datetime"})
_FLOATS = {"double": "float64", "float": "float32"}
_SHOWN = 5  # rows named in an error message


class FeatureLookup:
    """Adds a model's features to entity-key rows from the online store.

    Build it with :meth:`for_model`; the constructor is for callers that already know
    the mapping.

    Args:
        store: the feature store whose online store is read.
        inputs: the model's table signature (its columns, in order).
        features: ``{model column: "<view>:<feature>"}`` for the columns looked up.
        name: how the model is named in errors (``models:/churn/3``).
    """

    def __init__(
        self,
        store: FeatureStore,
        inputs: Sequence[ColumnSpec],
        features: Mapping[str, str],
        *,
        name: str = "the model",
    ) -> None:
        self.store = store
        self.inputs = tuple(inputs)
        self.features = dict(features)
        self.name = name
        self._references = list(dict.fromkeys(self.features.values()))
        resolved = store.resolve_features(self._references, full_feature_names=True)
        online = {ref: column for column, ref in resolved.columns.items()}
        self._online = {column: online[ref] for column, ref in self.features.items()}
        self.join_keys = resolved.join_keys
        self.request_fields = resolved.request_fields
        self.passthrough = tuple(s.name for s in self.inputs if s.name not in self.features)
        self._types = {spec.name: spec.type for spec in self.inputs}

    @classmethod
    def for_model(
        cls,
        model: LoadedModel,
        store: FeatureStore,
        *,
        features: Sequence[str] | None = None,
        full_feature_names: bool = False,
    ) -> FeatureLookup | None:
        """The lookup ``model`` needs, or ``None`` when it needs none.

        Args:
            model: the loaded version (its signature and source run are read).
            store: the feature store to read definitions and online values from.
            features: references to use instead of what training recorded (say, from the
                deployment); matched to the signature by column name.
            full_feature_names: the declared features' columns are ``<view>__<feature>``.

        Returns:
            ``None`` when no signature column is a feature training recorded (or the
            model has no table signature and nothing was declared).

        Raises:
            InvalidInputError: features declared for a model without a table signature,
                none of them an input of the model, or a column two recorded features
                both filled (declare which one).
            NotFoundError: a declared (or recorded) feature the definitions no longer have.

        Example:
            >>> FeatureLookup.for_model(loaded, store) is None  # doctest: +SKIP
            False
        """
        label = model.uri or "the model"
        columns = _table_columns(model)
        if features is not None:
            declared = store.resolve_features(features, full_feature_names=full_feature_names)
            used = _declared(label, columns, declared.columns)
        else:
            used = _recorded(label, model, store, columns)
        if not used or columns is None:
            return None
        return cls(store, columns, used, name=label)

    def enrich(self, rows: Any) -> tuple[pd.DataFrame, dict[str, list[Any]]]:
        """The model's input for ``rows`` and the feature values looked up for them.

        Args:
            rows: records (``[{"driver_id": 1001}]``), columns (``{"driver_id": [1001]}``,
                or one record as a dict of scalars) or a DataFrame.

        Returns:
            ``(model_input, features)``: a DataFrame of the signature's columns in order,
            and ``{model column: [value per row]}`` of the looked-up features (empty when
            the request carried every input itself).

        Raises:
            InvalidInputError: rows that are not records or columns, a missing key or
                column, or an unknown entity where the signature allows no null.
        """
        import pandas as pd

        records = _records(rows)
        if not records:
            return pd.DataFrame({s.name: _column([], s.type) for s in self.inputs}), {}
        if all(spec.name in row for row in records for spec in self.inputs):
            return self._frame(records, {}), {}
        self._require(records)
        response = self.store.get_online_features(
            records, self._references, full_feature_names=True
        )
        looked_up = {col: _nulls(response.columns[online]) for col, online in self._online.items()}
        self._refuse_gaps(records, looked_up)
        return self._frame(records, looked_up), looked_up

    def _frame(self, records: list[Mapping[str, Any]], found: dict[str, list[Any]]) -> Any:
        import pandas as pd

        return pd.DataFrame(
            {
                spec.name: _column(
                    found[spec.name] if spec.name in found else [r[spec.name] for r in records],
                    spec.type,
                )
                for spec in self.inputs
            }
        )

    def _require(self, records: list[Mapping[str, Any]]) -> None:
        names = dict.fromkeys((*self.join_keys, *self.request_fields, *self.passthrough))
        keys = set(self.join_keys)
        problems: list[str] = []
        missing: dict[str, list[int]] = {}
        for name in names:
            rows = [
                i
                for i, row in enumerate(records)
                if name not in row or (name in keys and row[name] is None)
            ]
            if rows:
                missing[name] = rows
                problems.append(f"'{name}' in {_rows_text(rows)}")
        if problems:
            raise InvalidInputError(
                f"the request lacks {'; '.join(problems)}: {self.name} looks up "
                f"{', '.join(self._references)} by {', '.join(self.join_keys)}; send "
                f"{', '.join(names)} in every row",
                details={"missing": missing},
            )

    def _refuse_gaps(self, records: list[Mapping[str, Any]], found: dict[str, list[Any]]) -> None:
        for column, values in found.items():
            kind = self._types[column]
            if kind in _NULLABLE:
                continue
            rows = [i for i, value in enumerate(values) if value is None]
            if rows:
                entities = ", ".join(
                    "(" + ", ".join(f"{k}={records[i].get(k)!r}" for k in self.join_keys) + ")"
                    for i in rows[:_SHOWN]
                )
                raise InvalidInputError(
                    f"no online value of {self.features[column]} for {entities}"
                    f"{' and more' if len(rows) > _SHOWN else ''}: the online store does not "
                    f"know the entity or its value expired, and {self.name} takes '{column}' "
                    f"as {kind} without gaps; send a known entity, or materialize the view",
                    details={"feature": self.features[column], "rows": rows},
                )


def _table_columns(model: LoadedModel) -> tuple[ColumnSpec, ...] | None:
    signature = model.signature
    if signature is None or not isinstance(signature.inputs, tuple):
        return None
    specs = signature.inputs
    if not all(isinstance(spec, ColumnSpec) for spec in specs):
        return None
    return tuple(spec for spec in specs if isinstance(spec, ColumnSpec))


def _declared(
    label: str, columns: tuple[ColumnSpec, ...] | None, declared: Mapping[str, str]
) -> dict[str, str]:
    if columns is None:
        raise InvalidInputError(
            f"{label} has no table signature, so declared features cannot be matched to its "
            "inputs by name; log it with a DataFrame input example (the training set's "
            "columns)"
        )
    used = {spec.name: declared[spec.name] for spec in columns if spec.name in declared}
    if not used:
        raise InvalidInputError(
            f"none of the declared features ({', '.join(declared)}) is an input of {label}; "
            f"its inputs are {', '.join(spec.name for spec in columns)} (with "
            "full_feature_names=True columns are named '<view>__<feature>')"
        )
    unused = [column for column in declared if column not in used]
    if unused:
        log.info("%s does not take declared features %s", label, ", ".join(unused))
    return used


def _recorded(
    label: str, model: LoadedModel, store: FeatureStore, columns: tuple[ColumnSpec, ...] | None
) -> dict[str, str]:
    run = model.manifest.source_run
    recorded = [] if run is None else store.training_features(run)
    if recorded and columns is None:
        log.warning(
            "%s was trained on features of run %s but has no table signature: requests must "
            "carry its whole input (declare features and log it with a DataFrame example to "
            "look them up)",
            label,
            run,
        )
        return {}
    names = {spec.name for spec in columns or ()}
    by_column: dict[str, list[FeatureUse]] = {}
    for use in recorded:
        if use.column in names:
            by_column.setdefault(use.column, []).append(use)
    used: dict[str, str] = {}
    for column, uses in by_column.items():
        references = sorted({use.reference for use in uses})
        if len(references) > 1:
            raise InvalidInputError(
                f"column '{column}' of {label} was filled from {' and '.join(references)} in "
                f"run {run}; declare the features the deployment should look up"
            )
        used[column] = references[0]
        _warn_if_changed(label, store, uses[-1])
    return used


def _warn_if_changed(label: str, store: FeatureStore, use: FeatureUse) -> None:
    kind = "on_demand_feature_view" if use.on_demand else "feature_view"
    current = store.definitions().versions.get((kind, use.view))
    if current is not None and current != use.version:
        log.warning(
            "%s was trained on %s version %d; the online store serves version %d",
            label,
            use.view,
            use.version,
            current,
        )


def _records(rows: Any) -> list[Mapping[str, Any]]:
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a DataFrame
        records: list[Mapping[str, Any]] = rows.to_dict("records")
        return records
    if isinstance(rows, Mapping):
        return _columns_to_records(rows)
    if isinstance(rows, list | tuple):
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise InvalidInputError(
                    f"row {index} is a {type(row).__name__}; send rows as records such as "
                    "{'driver_id': 1001}, or columns such as {'driver_id': [1001, 1002]}"
                )
        return list(rows)
    raise InvalidInputError(
        f"feature lookup takes records, columns or a DataFrame, got {type(rows).__name__}; "
        "send e.g. [{'driver_id': 1001}]"
    )


def _columns_to_records(columns: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    listed = {
        name: values.tolist() if isinstance(values, np.ndarray) else values
        for name, values in columns.items()
    }
    sequences = {n: v for n, v in listed.items() if isinstance(v, list | tuple)}
    if not sequences:
        return [listed]  # one record given as a dict of scalars
    lengths = {name: len(values) for name, values in sequences.items()}
    if len(sequences) != len(listed) or len(set(lengths.values())) != 1:
        shown = ", ".join(f"{name}: {lengths.get(name, 'a single value')}" for name in listed)
        raise InvalidInputError(
            f"columns must all be lists of one length, got {shown}; send one value per row "
            "in every column"
        )
    names = list(listed)
    return [dict(zip(names, row, strict=True)) for row in zip(*listed.values(), strict=True)]


def _column(values: list[Any], kind: str) -> Any:
    """A float column with nulls as NaN; anything else as given, for the signature check
    to cast or refuse (a string is never quietly parsed as a number here)."""
    dtype = _FLOATS.get(kind)
    if dtype is None or not all(_is_number(v) for v in values):
        return values
    return np.array([np.nan if v is None else v for v in values], dtype=dtype)


def _nulls(values: list[Any]) -> list[Any]:
    """``values`` with NaN as ``None`` (on-demand views compute missing values as NaN)."""
    return [None if isinstance(v, float) and v != v else v for v in values]


def _is_number(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:_SHOWN]))
    more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"
