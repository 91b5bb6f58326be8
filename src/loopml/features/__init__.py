"""The feature store: definitions, point-in-time training sets and online features.

Define entities, feature views over Parquet files or dataset versions, and on-demand
transformations in Python; :class:`FeatureStore` registers them (versioned), joins
them point-in-time correctly for training, materializes the latest values into an
online store (SQLite by default, Redis for many servers) and serves them.

Example:
    >>> from datetime import timedelta
    >>> driver = Entity("driver", join_keys=["driver_id"])
    >>> stats = FeatureView(
    ...     "driver_stats", entities=[driver], source="data/driver_stats.parquet",
    ...     timestamp_field="event_time", features=[Feature("trips", "int64")],
    ...     ttl=timedelta(days=1),
    ... )
    >>> store = FeatureStore()  # doctest: +SKIP
    >>> store.apply([driver, stats])  # doctest: +SKIP
    >>> store.get_training_set(entity_df, ["driver_stats:trips"])  # doctest: +SKIP
"""

from loopml.features.definitions import Entity, Feature, FeatureView
from loopml.features.loader import load_definitions
from loopml.features.models import (
    ApplyResult,
    DefinitionChange,
    FeatureUse,
    FieldChange,
    Materialization,
    MaterializationResult,
    OnlineResponse,
    RegisteredDefinition,
    ResolvedFeatures,
)
from loopml.features.on_demand import OnDemandFeatureView, RequestField, on_demand_feature_view
from loopml.features.online import OnlineStore
from loopml.features.store import FeatureStore

__all__ = [
    "ApplyResult",
    "DefinitionChange",
    "Entity",
    "Feature",
    "FeatureStore",
    "FeatureUse",
    "FeatureView",
    "FieldChange",
    "Materialization",
    "MaterializationResult",
    "OnDemandFeatureView",
    "OnlineResponse",
    "OnlineStore",
    "RegisteredDefinition",
    "RequestField",
    "ResolvedFeatures",
    "load_definitions",
    "on_demand_feature_view",
]
