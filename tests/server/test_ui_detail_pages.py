"""The web UI's detail pages in real headless Chromium: a model version (slices, gates,
approvals with the role check), a dataset version's validation reports, a feature view,
and the alerts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from loopml.config import Settings
from loopml.registry import RegistryClient

from ._ui_data import DATASET, MODEL, LiveServer, live_server
from ._ui_details import FAILED_GATE_REASON, VIEW, Details, add_details
from .test_ui_pages import Tab, browser

__all__ = ["browser"]  # the module's browser fixture, shared from test_ui_pages


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Details]]:
    scratch = tmp_path_factory.mktemp("ui-details")
    for server in live_server(Settings.load(home=scratch / "home"), scratch):
        yield server, add_details(server.settings, scratch)


@pytest.fixture
def tab(browser: Any, live: tuple[LiveServer, Details]) -> Iterator[Tab]:
    found = Tab(browser, live[0].url)
    yield found
    found.close()


def test_every_detail_page_renders_with_data_and_no_errors(
    tab: Tab, live: tuple[LiveServer, Details]
) -> None:
    server, details = live
    tab.sign_in(server.token("ida", "viewer"))
    expected = {
        f"/models/{MODEL}/versions/{details.gated}": ["Model card", "numpy==2.1.0", "trainer"],
        f"/models/{MODEL}/versions/1": ["production", "the first model", "first one"],
        f"/datasets/{DATASET}/versions/2": ["Validation reports", "extra_column", "FAILED"],
        f"/datasets/{DATASET}/versions/1": ["passed", "No violations"],
        f"/features/{VIEW}": ["customer_id", "spend", "visits", "online in"],
        "/alerts": ["No alert."],
    }
    for path, texts in expected.items():
        response = tab.goto(path)
        assert response.status == 200, path
        body = tab.page.inner_text("main")
        for text in texts:
            assert text in body, (path, text)
        assert tab.page.evaluate("window.__pwned") is None, path  # no injected script ran
    assert tab.problems == []


def test_the_version_page_shows_slices_and_a_failing_gates_reason(
    tab: Tab, live: tuple[LiveServer, Details]
) -> None:
    server, details = live
    tab.sign_in(server.token("jo", "viewer"))
    tab.goto(f"/models/{MODEL}")
    tab.page.click(f"#v{details.gated} a.version-link")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.url == f"{server.url}/models/{MODEL}/versions/{details.gated}"
    slices = tab.page.locator("table.slices[data-slice=plan]")
    assert slices.locator("thead th").all_inner_texts() == ["group", "rows", "accuracy", "f1"]
    rows = [r.locator("td").all_inner_texts() for r in slices.locator("tbody tr").all()]
    assert rows[0] == ["a", "2", "0.5", "0.4"]
    assert rows[1][0].startswith("b <script>")  # shown as text, not run
    failing = tab.page.locator("table.gates tr.gate-fail td").all_inner_texts()
    assert failing == ["FAIL", "accuracy >= 0.9", "0.6667", "0.9", FAILED_GATE_REASON]
    assert tab.page.locator("table.gates tr.gate-pass").count() == 1
    assert tab.page.locator("#inputs tbody tr").count() == 2
    tab.page.click("#source-run a")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.url == f"{server.url}/runs/{details.run_id}"
    tab.page.go_back()
    tab.page.click("#lineage-link")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator(f"#upstream li[data-node='run:{details.run_id}']").count() == 1
    assert tab.problems == []


def test_approving_from_the_version_page_moves_the_version(
    tab: Tab, live: tuple[LiveServer, Details]
) -> None:
    server, _ = live
    registry = RegistryClient(server.settings)
    version = server.filled.validated
    assert registry.get_version(MODEL, version).status == "validated"
    tab.sign_in(server.token("kim", "viewer", ("approver", f"model:{MODEL}")))
    tab.goto(f"/models/{MODEL}/versions/{version}")
    tab.page.fill("#approve-form input[name=comment]", "checked the slices")
    tab.page.click("#approve-form button.approve")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.url.startswith(f"{server.url}/models/{MODEL}/versions/{version}?notice=")
    assert tab.page.locator(".notice").inner_text() == f"version {version} approved by kim"
    assert tab.page.locator("#status").inner_text() == "approved"
    assert "approved by kim" in tab.page.locator("ul.approvals").inner_text()
    assert tab.page.locator("#approve-form").count() == 0
    assert registry.get_version(MODEL, version).status == "approved"
    assert [(a.decision, a.actor, a.comment) for a in registry.list_approvals(MODEL, version)] == [
        ("approved", "kim", "checked the slices")
    ]
    assert tab.problems == []


def test_a_viewer_sees_no_approve_button_and_cannot_approve(
    tab: Tab, live: tuple[LiveServer, Details]
) -> None:
    server, details = live
    registry = RegistryClient(server.settings)
    tab.sign_in(server.token("lou", "viewer"))
    tab.goto(f"/models/{MODEL}/versions/{details.pending}")
    assert tab.page.locator("#status").inner_text() == "validated"
    assert tab.page.locator("button.approve").count() == 0
    assert "needs the approver role" in tab.page.locator("#approval-hint").inner_text()
    # Sent anyway (with the page's cookie), the approval is refused with the error page.
    answer = tab.page.request.post(
        f"{server.url}/models/{MODEL}/versions/{details.pending}/approve",
        form={"comment": "sneaky", "next": f"/models/{MODEL}/versions/{details.pending}"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "approver" in answer.text()
    assert registry.get_version(MODEL, details.pending).status == "validated"
    assert registry.list_approvals(MODEL, details.pending) == []
    assert tab.problems == []


def test_the_feature_view_page_lists_the_features(
    tab: Tab, live: tuple[LiveServer, Details]
) -> None:
    server, _ = live
    tab.sign_in(server.token("max", "viewer"))
    tab.goto("/features")
    tab.page.click(f"a[href='/features/{VIEW}']")
    tab.page.wait_for_load_state("networkidle")
    rows = [
        r.locator("td").all_inner_texts()
        for r in tab.page.locator("table.feature-list tbody tr").all()
    ]
    assert [row[:2] for row in rows] == [["spend", "float64"], ["visits", "int64"]]
    assert rows[0][2] == "money <script>window.__pwned = 1</script>"
    entities = tab.page.locator("table.entities tbody tr td").all_inner_texts()
    assert entities[:2] == ["customer", "customer_id"]
    assert "86,400 s" in tab.page.locator("#ttl").inner_text()
    assert tab.page.locator("table.materializations tbody tr").count() == 1
    assert tab.problems == []


def test_validation_reports_are_reached_from_the_dataset_page(
    tab: Tab, live: tuple[LiveServer, Details]
) -> None:
    server, _ = live
    tab.sign_in(server.token("ned", "viewer"))
    tab.goto(f"/datasets/{DATASET}")
    tab.page.click("#v2 a.version-link")
    tab.page.wait_for_load_state("networkidle")
    report = tab.page.locator("article.validation.failed")
    assert report.count() == 1
    violation = report.locator("table.violations tbody tr").first.locator("td").all_inner_texts()
    assert violation[1:3] == ["extra_column", "spend"]
    assert tab.problems == []
