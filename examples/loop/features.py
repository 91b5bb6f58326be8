"""Feature definitions for the churn demo: also usable as `loopml features apply features.py`.

The feature view reads the latest version of the versioned dataset, so retraining on new
data needs no change here; the on-demand feature is one Python function used both to
build training sets and to serve, so the two can never drift apart.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from loopml.features import Entity, Feature, FeatureView, on_demand_feature_view

customer = Entity("customer", join_keys=["customer_id"], description="A subscriber")

customer_activity = FeatureView(
    "customer_activity",
    entities=[customer],
    source="datasets:/customer_activity@latest",
    timestamp_field="event_time",
    features=[
        Feature("tenure_days", "int64"),
        Feature("monthly_spend", "float64"),
        Feature("support_calls_30d", "int64"),
        Feature("logins_7d", "int64"),
        Feature("plan", "string"),
    ],
    ttl=timedelta(days=14),
    description="Daily activity snapshot per customer",
)


@on_demand_feature_view(
    sources=[customer_activity],
    schema=[Feature("spend_per_login", "float64"), Feature("calls_per_login", "float64")],
)
def engagement(features: pd.DataFrame) -> pd.DataFrame:
    """Ratios computed the same way offline (training) and online (serving)."""
    return pd.DataFrame(
        {
            "spend_per_login": features["monthly_spend"] / (features["logins_7d"] + 1),
            "calls_per_login": features["support_calls_30d"] / (features["logins_7d"] + 1),
        }
    )


DEFINITIONS = [customer, customer_activity, engagement]
