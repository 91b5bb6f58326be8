"""The web UI's HTTP behaviour without a browser: redirects, cookies, refusals, downsampling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.registry import RegistryClient
from loopml.server import ServerConfig

from ._support import Server, make_server
from ._ui_data import EXPERIMENT, HISTORY, MODEL, Filled, fill


@pytest.fixture
def filled_settings(tmp_path: Path) -> tuple[Settings, Filled]:
    settings = Settings.load(home=tmp_path / "home")
    return settings, fill(settings, tmp_path)


@pytest.fixture
def ui(filled_settings: tuple[Settings, Filled]) -> Iterator[Server]:
    yield from make_server(filled_settings[0], ServerConfig(auth="tokens"))


@pytest.fixture
def open_ui(filled_settings: tuple[Settings, Filled]) -> Iterator[Server]:
    yield from make_server(filled_settings[0], ServerConfig(auth="none"))


def test_pages_redirect_to_sign_in_but_the_api_still_answers_401(ui: Server) -> None:
    page = ui.client.get(f"/experiments/{EXPERIMENT}?filter=x", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fexperiments%2Fchurn-ui%3Ffilter%3Dx"
    assert ui.client.get("/api/v1/whoami").status_code == 401


def test_sign_in_sets_an_http_only_strict_cookie_and_follows_only_local_pages(ui: Server) -> None:
    headers = ui.user("ana", "viewer")
    token = headers["Authorization"].removeprefix("Bearer ")
    answer = ui.client.post(
        "/login", data={"token": token, "next": "//evil.example/"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert f"loopml_token={token}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert ui.client.get("/models").status_code == 200  # the cookie is sent back
    wrong = ui.client.post("/login", data={"token": "nope"}, follow_redirects=False)
    assert wrong.status_code == 401
    assert "text/html" in wrong.headers["content-type"]


def test_a_form_from_another_site_is_refused(
    open_ui: Server, filled_settings: tuple[Settings, Filled]
) -> None:
    answer = open_ui.client.post(
        f"/models/{MODEL}/versions/2/approve",
        data={"comment": "csrf"},
        headers={"origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert RegistryClient(filled_settings[0]).get_version(MODEL, 2).status == "validated"


def test_token_free_mode_needs_no_sign_in(open_ui: Server) -> None:
    assert open_ui.client.get("/login", follow_redirects=False).headers["location"] == "/"
    home = open_ui.client.get("/")
    assert home.status_code == 200
    assert "approval pending" in home.text


def test_a_metric_history_never_returns_more_points_than_asked(
    open_ui: Server, filled_settings: tuple[Settings, Filled]
) -> None:
    run_id = filled_settings[1].runs["run-0"]
    answer = open_ui.client.get(f"/runs/{run_id}/metrics/loss?points=300").json()
    assert answer["total"] == HISTORY
    assert len(answer["values"]) <= 300
    assert any(0.5 < v < 0.501 for v in answer["values"])  # the spike at step 1234 survives
    assert open_ui.client.get(f"/runs/{run_id}/metrics/loss?points=1").status_code == 400


def test_unknown_things_are_html_404s(open_ui: Server) -> None:
    for path in ("/models/nope", "/runs/nope", "/static/nope.js", "/experiments/nope"):
        answer = open_ui.client.get(path)
        assert answer.status_code == 404, path
        assert "text/html" in answer.headers["content-type"]
