"""On-demand feature views: one pandas function, run on training frames and online rows.

The function takes a DataFrame whose columns are the features of its source views and
its request fields, and returns a DataFrame with the columns of its schema. The store
calls :meth:`OnDemandFeatureView.transform` with the training frame offline and with the
looked-up rows online, so both paths run the very same code on the same dtypes.

Example:
    >>> import pandas as pd
    >>> driver = Entity("driver", join_keys=["driver_id"])
    >>> stats = FeatureView("driver_stats", [driver], "/data/stats.parquet", "ts",
    ...                     [Feature("trips", "int64")])
    >>> @on_demand_feature_view(
    ...     sources=[stats, RequestField("distance_km", "float64")],
    ...     schema=[Feature("trips_per_km", "float64")],
    ... )
    ... def trip_density(df: pd.DataFrame) -> pd.DataFrame:
    ...     return pd.DataFrame({"trips_per_km": df["trips"] / df["distance_km"]})
    >>> trip_density.feature_names  # doctest: +SKIP
    ('trips_per_km',)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from loopml.errors import InvalidInputError, close_matches
from loopml.features import _functions
from loopml.features._frames import to_pandas
from loopml.features._types import arrow_type, check_dtype
from loopml.features.definitions import Feature, FeatureView, check_column, check_name

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["OnDemandFeatureView", "RequestField", "Transform", "on_demand_feature_view"]

Transform = Callable[["pd.DataFrame"], "pd.DataFrame"]


@dataclass(frozen=True)
class RequestField:
    """A value the caller sends with each request (an entity_df column offline).

    Example:
        >>> RequestField("distance_km", "float64").spec()
        {'request': 'distance_km', 'dtype': 'float64'}
    """

    name: str
    dtype: str

    def __post_init__(self) -> None:
        check_column(self.name, "request field")
        check_dtype(self.dtype, owner=f"request field '{self.name}'")

    def spec(self) -> dict[str, Any]:
        """The canonical JSON form."""
        return {"request": self.name, "dtype": self.dtype}


@dataclass(frozen=True)
class OnDemandFeatureView:
    """Features computed at read time from other views' features and request fields.

    Args:
        name: the view's name; its features are ``"<name>:<feature>"``.
        sources: the feature views whose features it reads, and its request fields.
        function: ``DataFrame -> DataFrame``; a module-level ``def`` whose code is
            registered (and checked again wherever it runs).
        schema: the typed columns the function returns.
        description: free text for people.
        tags: free key/value labels.
    """

    kind: ClassVar[str] = "on_demand_feature_view"

    name: str
    sources: Sequence[FeatureView | RequestField]
    function: Transform | None
    schema: Sequence[Feature]
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    function_ref: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = f"on-demand feature view '{check_name(self.name, 'on-demand feature view')}'"
        sources, schema = tuple(self.sources), tuple(self.schema)
        if not sources or not all(isinstance(s, FeatureView | RequestField) for s in sources):
            raise InvalidInputError(f"{owner} needs sources=[FeatureView or RequestField, ...]")
        if not schema or not all(isinstance(f, Feature) for f in schema):
            raise InvalidInputError(f"{owner} needs schema=[Feature(name, dtype), ...]")
        object.__setattr__(self, "sources", sources)
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "tags", dict(self.tags))
        _unique([name for name, _ in self.inputs], owner, "input columns")
        _unique([f.name for f in schema], owner, "schema columns")
        if not self.function_ref:  # defined here, not read back from the registry
            if not callable(self.function):
                raise InvalidInputError(f"{owner} needs function=<a DataFrame -> DataFrame def>")
            ref = _functions.describe_function(self.function, owner)
            _functions.remember(self.function, ref["digest"])
            object.__setattr__(self, "function_ref", ref)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The names of the columns it computes."""
        return tuple(f.name for f in self.schema)

    @property
    def source_views(self) -> tuple[FeatureView, ...]:
        """The feature views it reads."""
        return tuple(s for s in self.sources if isinstance(s, FeatureView))

    @property
    def request_fields(self) -> tuple[RequestField, ...]:
        """The values it needs from each request."""
        return tuple(s for s in self.sources if isinstance(s, RequestField))

    @property
    def inputs(self) -> tuple[tuple[str, str], ...]:
        """``(column, dtype)`` of every column the function receives, in order."""
        columns = [(f.name, f.dtype) for v in self.source_views for f in v.features]
        return (*columns, *((r.name, r.dtype) for r in self.request_fields))

    def compute(self, columns: Mapping[str, pa.Array]) -> pd.DataFrame:
        """Build the input frame from Arrow ``columns`` (by input name), then :meth:`transform`.

        Offline and online both come through here, so the function sees the same
        dtypes in training and in serving.
        """
        import pyarrow as pa

        table = pa.table(
            {name: columns[name].cast(arrow_type(dtype)) for name, dtype in self.inputs}
        )
        return self.transform(to_pandas(table))

    def transform(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Run the function on ``inputs`` and return its schema's columns, typed.

        Raises:
            InvalidInputError: the function returned no DataFrame, the wrong number of
                rows, or lacks a schema column.
        """
        import pandas as pd
        import pyarrow as pa

        function = self.function
        if function is None:  # read back from the registry: find the code
            function = _functions.load_function(self.function_ref, self._owner)
        output = function(inputs)
        if not isinstance(output, pd.DataFrame) or len(output) != len(inputs):
            got = f"{len(output)} rows" if isinstance(output, pd.DataFrame) else type(output)
            raise InvalidInputError(
                f"{self._owner}: {self.function_ref['name']}() must return a DataFrame with "
                f"one row per input row ({len(inputs)}), got {got}"
            )
        missing = [f.name for f in self.schema if f.name not in output.columns]
        if missing:
            hint = close_matches(missing[0], [str(c) for c in output.columns])
            raise InvalidInputError(
                f"{self._owner}: {self.function_ref['name']}() returned no column "
                f"'{missing[0]}'" + (f"; did you mean {', '.join(hint)}?" if hint else "")
            )
        arrays = {}
        for f in self.schema:
            try:
                arrays[f.name] = pa.array(output[f.name], from_pandas=True).cast(
                    arrow_type(f.dtype)
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
                raise InvalidInputError(
                    f"{self._owner}: column '{f.name}' cannot be {f.dtype}: {err}"
                ) from err
        frame = to_pandas(pa.table(arrays))
        frame.index = inputs.index
        return frame

    @property
    def _owner(self) -> str:
        return f"on-demand feature view '{self.name}'"

    def spec(self) -> dict[str, Any]:
        """The canonical JSON form (source views by name, the function by code digest)."""
        return {
            "name": self.name,
            "sources": [
                {"feature_view": s.name} if isinstance(s, FeatureView) else s.spec()
                for s in self.sources
            ],
            "schema": [f.spec() for f in self.schema],
            "function": dict(self.function_ref),
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
        }

    @classmethod
    def from_spec(
        cls, spec: Mapping[str, Any], views: Mapping[str, FeatureView]
    ) -> OnDemandFeatureView:
        """The view a :meth:`spec` describes; its function is found on first use."""
        sources: list[FeatureView | RequestField] = [
            views[s["feature_view"]]
            if "feature_view" in s
            else RequestField(s["request"], s["dtype"])
            for s in spec["sources"]
        ]
        return cls(
            name=spec["name"],
            sources=sources,
            function=None,  # found (and checked) when first used
            schema=[
                Feature(f["name"], f["dtype"], f.get("description", "")) for f in spec["schema"]
            ],
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
            function_ref=spec["function"],
        )


def on_demand_feature_view(
    *,
    sources: Sequence[FeatureView | RequestField],
    schema: Sequence[Feature],
    name: str | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
) -> Callable[[Transform], OnDemandFeatureView]:
    """Decorate a ``DataFrame -> DataFrame`` function to make it an on-demand view.

    The view is named after the function unless ``name`` is given; see the module
    docstring for an example.
    """

    def decorate(function: Transform) -> OnDemandFeatureView:
        return OnDemandFeatureView(
            name=name or function.__name__,
            sources=sources,
            function=function,
            schema=schema,
            description=description or (function.__doc__ or "").strip(),
            tags=tags or {},
        )

    return decorate


def _unique(names: Sequence[str], owner: str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInputError(
                f"{owner} has '{name}' twice among its {what}; rename one (each input "
                "feature and request field becomes one column of the function's frame)"
            )
        seen.add(name)
