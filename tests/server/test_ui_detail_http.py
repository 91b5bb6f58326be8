"""The web UI's detail pages over HTTP: a model version, a dataset version, a feature view
and the alerts, with data and without, escaped, and HTML 404s for unknown names."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.features import Entity, Feature, FeatureStore, FeatureView
from loopml.registry import RegistryClient
from loopml.server import ServerConfig

from ._support import Server, make_server
from ._ui_data import DATASET, MODEL, _package, fill
from ._ui_details import FAILED_GATE_REASON, SCRIPT, VIEW, Details, add_details
from .test_api_operations import monitored

__all__ = ["monitored"]  # a monitor with a firing alert, from the REST tests


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Details]:
    scratch = tmp_path_factory.mktemp("details")
    settings = Settings.load(home=scratch / "home")
    fill(settings, scratch)
    return settings, add_details(settings, scratch)


@pytest.fixture(scope="module")
def ui(filled: tuple[Settings, Details]) -> Iterator[Server]:
    yield from make_server(filled[0], ServerConfig(auth="none"))


def page_text(server: Server, path: str) -> str:
    answer = server.client.get(path)
    assert answer.status_code == 200, (path, answer.text[:500])
    assert answer.headers["content-type"].startswith("text/html")
    assert SCRIPT not in answer.text, path  # every value is escaped
    return answer.text


def test_the_version_page_shows_the_card_slices_gates_and_approvals(
    ui: Server, filled: tuple[Settings, Details]
) -> None:
    details = filled[1]
    body = page_text(ui, f"/models/{MODEL}/versions/{details.gated}")
    assert html.escape(f"fourth {SCRIPT}", quote=False) in body
    assert "numpy==2.1.0" in body
    assert "scikit-learn==1.5.2" in body
    assert "<code>tenure</code>" in body
    assert "int64" in body
    assert f'href="/runs/{details.run_id}"' in body  # the source run
    assert f'href="/datasets/{DATASET}/versions/2"' in body  # training data via lineage
    assert 'data-slice="plan"' in body
    assert html.escape(f"b {SCRIPT}", quote=False) in body  # a slice group, escaped
    assert html.escape(FAILED_GATE_REASON) in body
    assert 'class="gate-fail"' in body
    assert 'class="gate-pass"' in body
    assert "0.9" in body
    assert "0.6667" in body
    assert "rejected" in body  # the failing gate moved it
    assert "lineage?node=model_version%3Achurn%2F" in body
    assert "Approve v" not in body  # not validated: nothing to decide


def test_the_model_page_links_each_version_page(
    ui: Server, filled: tuple[Settings, Details]
) -> None:
    body = page_text(ui, f"/models/{MODEL}")
    for version in (1, 2, filled[1].gated):
        assert f'href="/models/{MODEL}/versions/{version}"' in body


def test_a_version_with_nothing_recorded_still_renders(ui: Server, tmp_path: Path) -> None:
    registry = RegistryClient(ui.settings)
    bare = registry.register(_package(tmp_path / "bare", b"bare"), "bare-model")
    body = page_text(ui, f"/models/bare-model/versions/{bare.version}")
    assert "Not evaluated yet" in body
    assert "No decision yet" in body
    assert "No source run" in body
    assert "No alias has pointed at this version" in body


def test_the_dataset_version_page_shows_its_validation_reports(ui: Server) -> None:
    body = page_text(ui, f"/datasets/{DATASET}/versions/2")
    assert body.count('class="validation failed"') == 1
    assert "extra_column" in body
    assert "spend" in body
    assert html.escape(f"CI {SCRIPT}", quote=False) in body
    first = page_text(ui, f"/datasets/{DATASET}/versions/1")
    assert 'class="validation passed"' in first
    assert "No violations" in first
    listing = page_text(ui, f"/datasets/{DATASET}")
    assert f'href="/datasets/{DATASET}/versions/2"' in listing
    DatasetClient(ui.settings).log("plain", pd.DataFrame({"x": [1]}))
    assert "No validation report is kept" in page_text(ui, "/datasets/plain/versions/1")


def test_the_feature_view_page_lists_entities_features_and_state(ui: Server) -> None:
    body = page_text(ui, f"/features/{VIEW}")
    for text in ("customer_id", "spend", "float64", "visits", "int64", "86,400 s", "event_time"):
        assert text in body, text
    assert html.escape(f"money {SCRIPT}", quote=False) in body
    assert "online in" in body
    assert "online.db" in body
    assert f'href="/features/{VIEW}"' in page_text(ui, "/features")


def test_a_feature_view_never_materialized_says_so(ui: Server, tmp_path: Path) -> None:
    source = tmp_path / "s.parquet"
    pd.DataFrame({"k": [1], "t": [pd.Timestamp("2025-01-01")], "v": [1.0]}).to_parquet(source)
    thing = Entity("thing", join_keys=["k"])
    view = FeatureView(
        "quiet",
        entities=[thing],
        source=source,
        timestamp_field="t",
        features=[Feature("v", "float64")],
    )
    store = FeatureStore(ui.settings, online_store="memory://")
    try:
        store.apply([thing, view])
    finally:
        store.close()
    body = page_text(ui, "/features/quiet")
    assert 'id="not-materialized"' in body
    assert "none (values never expire)" in body


def test_the_alerts_page_filters_by_state(ui: Server) -> None:
    body = page_text(ui, "/alerts")
    assert "No alert." in body
    assert page_text(ui, "/alerts?state=firing")
    bad = ui.client.get("/alerts?state=%3Cscript%3E")
    assert bad.status_code == 400
    assert "<script>" not in bad.text
    assert 'href="/alerts"' in page_text(ui, "/")
    assert 'href="/alerts"' in page_text(ui, "/monitors")


@pytest.mark.parametrize(
    "path",
    [
        "/models/nope/versions/1",
        f"/models/{MODEL}/versions/99",
        "/models/%3Cscript%3Ealert(1)%3E/versions/1",
        "/datasets/nope/versions/1",
        f"/datasets/{DATASET}/versions/99",
        "/features/nope",
        "/features/%3Cscript%3Ealert(1)%3E",
        "/features/customer",  # an entity, not a feature view
    ],
)
def test_unknown_things_are_html_404s(ui: Server, path: str) -> None:
    answer = ui.client.get(path)
    assert answer.status_code == 404, (path, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/html")
    assert 'class="problem"' in answer.text
    assert "<script>alert" not in answer.text


@pytest.mark.parametrize(
    "path", [f"/models/{MODEL}/versions/one", f"/datasets/{DATASET}/versions/0"]
)
def test_bad_version_numbers_are_html_400s(ui: Server, path: str) -> None:
    answer = ui.client.get(path)
    assert answer.status_code == 400
    assert 'class="problem"' in answer.text


def test_the_alerts_page_lists_a_firing_alert(server: Server, monitored: Any) -> None:
    viewer = server.user("val", "viewer")
    body = server.client.get("/alerts?state=firing", headers=viewer).text
    assert 'class="firing"' in body
    assert 'href="/monitors/churn-api"' in body
    assert "drift:x1 for 1" in body
    resolved = server.client.get("/alerts?state=resolved", headers=viewer).text
    assert "No alert." in resolved
    home = server.client.get("/", headers=viewer).text
    assert "alert firing: monitor" in home
    assert 'href="/alerts"' in home
