"""The web UI in real headless Chromium (Playwright over Debian's ``chromium``), against a
real uvicorn server over a store with runs, a model with versions, evaluations and a
version waiting for approval."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.registry import RegistryClient

from ._ui_data import DATASET, EXPERIMENT, HISTORY, MODEL, LiveServer, live_server

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (scripts/ensure-services.sh installs it)"
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    scratch = tmp_path_factory.mktemp("ui")
    yield from live_server(Settings.load(home=scratch / "home"), scratch)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        found = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"]
        )
        yield found
        found.close()


class Tab:
    """One browser tab that records console errors, page errors and failed requests."""

    def __init__(self, browser: Any, base: str) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on(
            "requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}")
        )
        self.page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 500 else None
            ),
        )

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def sign_in(self, token: str) -> None:
        self.goto("/login")
        self.page.fill("#token", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, live: LiveServer) -> Iterator[Tab]:
    found = Tab(browser, live.url)
    yield found
    found.close()


def test_a_browser_without_a_token_is_sent_to_sign_in_and_back(tab: Tab, live: LiveServer) -> None:
    tab.goto(f"/experiments/{EXPERIMENT}")
    assert tab.page.url.startswith(f"{live.url}/login?next=")
    tab.page.fill("#token", "not-a-token")
    tab.page.click("button[type=submit]")
    assert "401" not in tab.page.title()
    assert tab.page.locator(".problem").count() == 1
    tab.page.fill("#token", live.token("ana", "viewer"))
    tab.page.click("button[type=submit]")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.url == f"{live.url}/experiments/{EXPERIMENT}"
    cookie = next(c for c in tab.context.cookies() if c["name"] == "loopml_token")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    tab.page.click("#logout")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.url == f"{live.url}/login"
    assert not [c for c in tab.context.cookies() if c["name"] == "loopml_token"]
    tab.goto("/models")
    assert "/login" in tab.page.url
    # The console logs the failed token's 401 page load; nothing else may fail.
    assert [p for p in tab.problems if "401" not in p] == []


def test_every_page_renders_with_data_and_no_errors(tab: Tab, live: LiveServer) -> None:
    tab.sign_in(live.token("bo", "viewer"))
    runs = live.filled.runs
    expected = {
        "/": [MODEL, "gate failed", "approval pending"],
        "/models": [MODEL, "production"],
        f"/models/{MODEL}": ["Version 2", "accuracy >= 0.8", "Alias history", "the first model"],
        "/experiments": [EXPERIMENT],
        f"/experiments/{EXPERIMENT}": ["run-0", "run-1", "run-2", "depth"],
        f"/runs/{runs['run-0']}": ["loss", "accuracy", "depth"],
        f"/compare?run={runs['run-0']}&run={runs['run-2']}": ["run-0", "run-2", "params.model"],
        "/datasets": [DATASET],
        f"/datasets/{DATASET}": ["column added: spend", "rows 3 → 6"],
        "/deployments": ["churn-api", "100% → @production"],
        "/deployments/churn-api": ["@production", "v1", "History"],
        "/monitors": ["No monitor yet", "Alerts"],
        f"/lineage?node=model_version:{MODEL}/1": ["model_version", "Where it came from"],
        "/pipelines": ["ui_pipeline", "finished"],
        "/features": ["No feature definitions yet"],
        "/audit": ["model.created", "deployment.created", "dataset.log"],
        "/pipelines/ui_pipeline": ["n=5", "finished"],
        f"/pipeline-runs/{live.filled.pipeline_run}": ["ui_numbers", "ui_mean", "cache hit"],
    }
    for path, texts in expected.items():
        response = tab.goto(path)
        assert response.status == 200, path
        body = tab.page.inner_text("main")
        for text in texts:
            assert text in body, (path, text)
    assert tab.problems == []


def test_metric_charts_fetch_no_more_points_than_they_draw(tab: Tab, live: LiveServer) -> None:
    tab.sign_in(live.token("cy", "viewer"))
    fetched: list[int] = []
    tab.page.on(
        "response",
        lambda r: fetched.append(len(r.json()["values"])) if "/metrics/" in r.url else None,
    )
    tab.goto(f"/runs/{live.filled.runs['run-0']}")
    chart = tab.page.locator("div.chart[data-metric=loss]")
    chart.locator(".main-svg").first.wait_for()
    width = chart.bounding_box()["width"]
    assert int(chart.get_attribute("data-total")) == HISTORY
    drawn = int(chart.get_attribute("data-points"))
    assert 0 < drawn <= width < HISTORY
    assert max(fetched) <= width
    assert tab.problems == []


def test_filters_sorting_paging_and_comparison(tab: Tab, live: LiveServer) -> None:
    tab.sign_in(live.token("dee", "viewer"))
    tab.goto(f"/experiments/{EXPERIMENT}")
    tab.page.fill("#filter-text", "params.model = 'rf' and metrics.accuracy > 0.8")
    tab.page.click("#filter button[type=submit]")
    tab.page.wait_for_load_state("networkidle")
    names = tab.page.locator("table.runs tbody tr td:nth-child(2)").all_inner_texts()
    assert sorted(names) == ["run-0", "run-1"]
    tab.page.click("th.metric a.sort:text('accuracy')")  # descending first
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("table.runs tbody tr td:nth-child(2)").all_inner_texts() == [
        "run-0",
        "run-1",
    ]
    tab.page.click("th.metric a.sort:text('accuracy')")  # then ascending
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("table.runs tbody tr td:nth-child(2)").all_inner_texts() == [
        "run-1",
        "run-0",
    ]
    # A bad filter names the problem and still shows the runs.
    tab.goto(f"/experiments/{EXPERIMENT}?filter=metrics.accuracy+%3E%3E+1")
    assert tab.page.locator(".problem").count() == 1
    # Paging: one run a page.
    tab.goto(f"/experiments/{EXPERIMENT}?limit=1&order=run_name+asc")
    seen = []
    while True:
        seen += tab.page.locator("table.runs tbody tr td:nth-child(2)").all_inner_texts()
        if tab.page.locator("#next-page").count() == 0:
            break
        href = tab.page.get_attribute("#next-page", "href")
        tab.goto(f"/experiments/{EXPERIMENT}{href}&limit=1")
    assert seen == ["run-0", "run-1", "run-2"]
    # Comparison of the ticked runs, with parallel coordinates.
    tab.goto(f"/experiments/{EXPERIMENT}")
    for run_id in (live.filled.runs["run-0"], live.filled.runs["run-2"]):
        tab.page.check(f"tr[data-run='{run_id}'] input[type=checkbox]")
    tab.page.click("#compare")
    tab.page.wait_for_load_state("networkidle")
    tab.page.wait_for_selector("#parallel[data-drawn=true]")
    headers = tab.page.locator("table.compare thead th").all_inner_texts()[1:]
    model_row = tab.page.locator("table.compare tr.param:has-text('params.model') td")
    assert dict(zip(headers, model_row.all_inner_texts(), strict=True)) == {
        "run-0": "rf",
        "run-2": "lr",
    }
    assert tab.page.locator("#parallel .parcoords").count() == 1
    assert tab.problems == []


def test_an_approval_given_in_the_page_moves_the_version(tab: Tab, live: LiveServer) -> None:
    registry = RegistryClient(live.settings)
    version = live.filled.validated
    assert registry.get_version(MODEL, version).status == "validated"
    tab.sign_in(live.token("eve", "viewer", ("approver", f"model:{MODEL}")))
    tab.goto(f"/models/{MODEL}")
    tab.page.fill(f"#v{version} form:has(button.approve) input[name=comment]", "looks good")
    tab.page.click(f"#v{version} button.approve")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator(".notice").inner_text() == f"version {version} approved by eve"
    assert registry.get_version(MODEL, version).status == "approved"
    assert [(a.decision, a.actor, a.comment) for a in registry.list_approvals(MODEL, version)] == [
        ("approved", "eve", "looks good")
    ]
    assert "approved" in tab.page.locator(f"#v{version} h3 .status").inner_text()
    assert tab.page.locator(f"#v{version} button.approve").count() == 0
    tab.goto("/audit")
    tab.page.fill("#audit-filter input[name=actor]", "eve")
    tab.page.click("#audit-filter button[type=submit]")
    tab.page.wait_for_load_state("networkidle")
    rows = tab.page.locator("table.audit tbody tr").all_inner_texts()
    assert len(rows) == 1
    assert "model_version.approved" in rows[0]
    assert f"{MODEL}/{version}" in rows[0]
    assert tab.problems == []


def test_a_viewer_cannot_approve(tab: Tab, live: LiveServer, tmp_path: Path) -> None:
    registry = RegistryClient(live.settings)
    version = live.filled.validated + 10  # a fresh validated version, untouched by other tests
    from ._ui_data import _evaluate, _package

    while registry.get_model(MODEL).latest_version < version:
        made = registry.register(_package(tmp_path / str(version), b"x%d" % version), MODEL)
        _evaluate(registry, made.version, 0.95)
    tab.sign_in(live.token("fay", "viewer"))
    tab.goto(f"/models/{MODEL}")
    assert "Approving needs the approver role" in tab.page.inner_text(f"#v{version}")
    with tab.page.expect_response(lambda r: r.request.method == "POST") as answer:
        tab.page.click(f"#v{version} button.approve")
    tab.page.wait_for_load_state("networkidle")
    assert answer.value.status == 403
    refusal = tab.page.locator(".problem").inner_text()
    assert "approver" in refusal
    assert f"model:{MODEL}" in refusal
    assert registry.get_version(MODEL, version).status == "validated"
    assert registry.list_approvals(MODEL, version) == []
    assert [p for p in tab.problems if "403" not in p] == []


def test_lineage_is_explorable_both_ways(tab: Tab, live: LiveServer) -> None:
    tab.sign_in(live.token("gus", "viewer"))
    run_id = live.filled.runs["run-0"]
    tab.goto(f"/runs/{run_id}")
    tab.page.click("a:text('lineage')")
    tab.page.wait_for_load_state("networkidle")
    data = f"dataset_version:{DATASET}/2"
    upstream = tab.page.locator(f"#upstream li[data-node='{data}']")
    assert "consumed" in upstream.inner_text()
    upstream.locator("a").first.click()  # walk on from the dataset version ...
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator(f"#downstream li[data-node='run:{run_id}']").count() == 1  # ... back
    tab.page.click("a:text('Open dataset_version')")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.url == f"{live.url}/datasets/{DATASET}/versions/2"
    assert tab.problems == []


def test_a_pipeline_run_shows_its_dag_with_states_and_cache_hits(
    tab: Tab, live: LiveServer
) -> None:
    tab.sign_in(live.token("hal", "viewer"))
    tab.goto("/pipelines/ui_pipeline")
    cache_hits = tab.page.locator("table.runs tbody tr td:nth-child(6)").all_inner_texts()
    assert cache_hits == ["3", "0"]  # newest first: the second run hit the cache everywhere
    tab.page.locator("table.runs tbody tr a").first.click()
    tab.page.wait_for_load_state("networkidle")
    layers = [
        layer.locator(".node").evaluate_all("nodes => nodes.map(n => n.dataset.node)")
        for layer in tab.page.locator(".dag .layer").all()
    ]
    assert layers == [["ui_numbers"], ["ui_total"], ["ui_mean"]]
    assert tab.page.locator(".dag .node.state-cached .cache").count() == 3
    assert tab.problems == []
