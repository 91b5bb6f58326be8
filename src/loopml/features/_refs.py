"""Feature references (``"driver_stats:trips"``) resolved against the definitions.

:func:`plan_features` turns the caller's list of references into a :class:`FeaturePlan`:
which feature views to read (with the features on-demand views need as inputs),
which on-demand views to compute, and the output column of every reference. Both the
offline and the online path work from the same plan.

Example:
    >>> plan = plan_features(["driver_stats:trips"], definitions)  # doctest: +SKIP
    >>> plan.columns  # doctest: +SKIP
    ('trips',)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopml.errors import InvalidInputError, NotFoundError, close_matches
from loopml.features.definitions import FeatureView
from loopml.features.on_demand import OnDemandFeatureView
from loopml.features.registry import Definitions

__all__ = ["FeaturePlan", "OnDemandRead", "ViewRead", "plan_features"]


@dataclass(frozen=True)
class ViewRead:
    """The features to read from one feature view.

    Attributes:
        features: the features read, in the view's order (requested ones and inputs of
            on-demand views).
        outputs: ``{feature: output column}`` for the requested ones.
    """

    view: FeatureView
    features: tuple[str, ...]
    outputs: dict[str, str]


@dataclass(frozen=True)
class OnDemandRead:
    """One on-demand view to compute and the output columns of its requested features."""

    view: OnDemandFeatureView
    outputs: dict[str, str]


@dataclass(frozen=True)
class FeaturePlan:
    """Everything a request for features needs, in the order the caller asked."""

    views: tuple[ViewRead, ...]
    on_demand: tuple[OnDemandRead, ...]
    columns: tuple[str, ...]

    @property
    def join_keys(self) -> tuple[str, ...]:
        """Every join key the request needs, first seen first."""
        keys = (k for read in self.views for k in read.view.join_keys)
        return tuple(dict.fromkeys(keys))

    @property
    def request_fields(self) -> tuple[tuple[str, str], ...]:
        """``(name, dtype)`` of the request fields the on-demand views need."""
        fields = ((r.name, r.dtype) for od in self.on_demand for r in od.view.request_fields)
        return tuple(dict.fromkeys(fields))


def plan_features(
    refs: Sequence[str], definitions: Definitions, *, full_feature_names: bool = False
) -> FeaturePlan:
    """Resolve ``refs`` (``"view:feature"`` or ``"view:*"``) against ``definitions``.

    Raises:
        InvalidInputError: a malformed reference, none at all, or two features that
            would get the same column name.
        NotFoundError: an unknown view or feature (with close matches).
    """
    if isinstance(refs, str) or not refs:
        raise InvalidInputError(
            "features must be a non-empty list of references such as ['driver_stats:trips']"
        )
    wanted: dict[str, dict[str, str]] = {}  # view -> {feature: column}, in request order
    seen_columns: dict[str, str] = {}
    for ref in refs:
        view_name, features = _resolve(ref, definitions)
        for feature in features:
            column = f"{view_name}__{feature}" if full_feature_names else feature
            owner = f"{view_name}:{feature}"
            if seen_columns.setdefault(column, owner) != owner:
                raise InvalidInputError(
                    f"features {seen_columns[column]} and {owner} would both be column "
                    f"'{column}'; pass full_feature_names=True (--full-names) to get "
                    "'<view>__<feature>' columns"
                )
            wanted.setdefault(view_name, {})[feature] = column
    reads: dict[str, set[str]] = {}
    on_demand = []
    for name, outputs in wanted.items():
        if name in definitions.on_demand:
            od = definitions.on_demand[name]
            on_demand.append(OnDemandRead(od, outputs))
            for source in od.source_views:
                reads.setdefault(source.name, set()).update(source.feature_names)
        else:
            reads.setdefault(name, set()).update(outputs)
    views = tuple(
        ViewRead(
            view := definitions.views[name],
            tuple(f for f in view.feature_names if f in needed),
            wanted.get(name, {}),
        )
        for name, needed in reads.items()
    )
    return FeaturePlan(views, tuple(on_demand), tuple(seen_columns))


def _resolve(ref: object, definitions: Definitions) -> tuple[str, list[str]]:
    if not isinstance(ref, str) or ref.count(":") != 1:
        feature = str(ref)
        owners = [
            f"{name}:{feature}"
            for name in definitions.all_view_names
            if feature in (_features_of(name, definitions) or ())
        ]
        hint = f"; did you mean {', '.join(owners)}?" if owners else ""
        raise InvalidInputError(
            f"{ref!r} is not a feature reference; write '<view>:<feature>'{hint}",
            details={"reference": feature},
        )
    view_name, feature = ref.split(":")
    names = _features_of(view_name, definitions)
    if names is None:
        raise NotFoundError(
            "feature view",
            view_name,
            choices=definitions.all_view_names,
            hint="list them with `loopml features list`",
        )
    if feature == "*":
        return view_name, list(names)
    if feature not in names:
        raise NotFoundError(
            "feature",
            ref,
            choices=[f"{view_name}:{n}" for n in close_matches(feature, names)],
            hint=f"'{view_name}' has {', '.join(names)}",
        )
    return view_name, [feature]


def _features_of(view: str, definitions: Definitions) -> tuple[str, ...] | None:
    if view in definitions.views:
        return definitions.views[view].feature_names
    if view in definitions.on_demand:
        return definitions.on_demand[view].feature_names
    return None
