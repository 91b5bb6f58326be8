"""Definitions the tests share; on-demand functions must live in a module (they are
registered by their source code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd

from loopml.features import (
    Entity,
    Feature,
    FeatureView,
    OnDemandFeatureView,
    RequestField,
)


def trips_per_km(df: pd.DataFrame) -> pd.DataFrame:
    """Trips per kilometre of the requested ride, and whether the driver is rated."""
    return pd.DataFrame(
        {
            "trips_per_km": df["trips"] / df["km"],
            "rated": df["rating"].notna(),
        }
    )


@dataclass(frozen=True)
class Definitions:
    driver: Entity
    stats: FeatureView
    density: OnDemandFeatureView

    @property
    def all(self) -> list[Entity | FeatureView | OnDemandFeatureView]:
        return [self.driver, self.stats, self.density]


def make_definitions(source: Path, ttl: timedelta | None = timedelta(hours=2)) -> Definitions:
    driver = Entity("driver", join_keys=["driver_id"], description="a driver")
    stats = FeatureView(
        "driver_stats",
        entities=[driver],
        source=source,
        timestamp_field="event_time",
        features=[
            Feature("trips", "int64"),
            Feature("rating", "float64"),
            Feature("city", "string"),
        ],
        ttl=ttl,
    )
    density = OnDemandFeatureView(
        "density",
        sources=[stats, RequestField("km", "float64")],
        function=trips_per_km,
        schema=[Feature("trips_per_km", "float64"), Feature("rated", "bool")],
    )
    return Definitions(driver, stats, density)
