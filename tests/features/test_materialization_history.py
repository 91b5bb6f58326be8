"""A feature view's materialization runs, newest first, as the web UI shows them."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInputError, NotFoundError
from loopml.features import FeatureStore

from .conftest import at


def test_materializations_are_listed_newest_first(feature_store: FeatureStore) -> None:
    store = feature_store
    assert store.materializations("driver_stats") == []
    store.materialize_incremental(at(11))
    store.materialize_incremental(at(13))
    found = store.materializations("driver_stats")
    assert [(m.view, m.version, m.start, m.end, m.rows) for m in found] == [
        ("driver_stats", 1, int(at(11).timestamp() * 1000), int(at(13).timestamp() * 1000), 2),
        ("driver_stats", 1, int(at(9).timestamp() * 1000), int(at(11).timestamp() * 1000), 2),
    ]
    assert {m.online_store for m in found} == {store.online.url}
    assert found[0].to_dict()["end"] == found[0].end
    assert [m.end for m in store.materializations("driver_stats", limit=1)] == [found[0].end]


def test_unknown_views_and_bad_limits_are_refused(feature_store: FeatureStore) -> None:
    with pytest.raises(NotFoundError, match="driver_stats"):
        feature_store.materializations("driver_stat")
    with pytest.raises(NotFoundError):
        feature_store.materializations("driver")  # an entity, not a feature view
    with pytest.raises(InvalidInputError, match="limit"):
        feature_store.materializations("driver_stats", limit=0)
