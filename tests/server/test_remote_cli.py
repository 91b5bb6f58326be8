"""Remote mode of the CLI: with ``LOOPML_TRACKING_URI=http://…`` the ``experiments``,
``runs`` and ``models`` commands work against a real server (uvicorn on 127.0.0.1), and
print what they print on the server's own store."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from loopml.cli import app
from loopml.config import Settings
from loopml.registry import RegistryClient
from loopml.server import AccountService, ServerConfig
from loopml.store import open_store
from loopml.tracking import TrackingClient

from ._models import add_version, evaluate
from ._support import live_server


@dataclass
class World:
    """One server over a store with runs and models, the store's own CLI, and tokens."""

    store_home: Path
    client_home: Path
    url: str
    tokens: dict[str, str]
    runs: dict[str, str]

    def embedded(self, *args: str) -> Result:
        """``loopml --home STORE …`` on the server's store, no server involved."""
        env = {"LOOPML_TRACKING_URI": None, "LOOPML_TRACKING_TOKEN": None}
        return _invoke(["--home", str(self.store_home), *args], env)

    def remote(self, *args: str, user: str = "ana", url: str | None = None) -> Result:
        """``loopml …`` on another machine's home, against the server, as ``user``."""
        env = {
            "LOOPML_TRACKING_URI": url or self.url,
            "LOOPML_TRACKING_TOKEN": self.tokens.get(user),
        }
        return _invoke(["--home", str(self.client_home), *args], env)


def _invoke(args: list[str], env: dict[str, str | None]) -> Result:
    return CliRunner().invoke(app, args, env=env)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def _fill(settings: Settings, tmp_path: Path) -> dict[str, str]:
    tracking = TrackingClient(settings, capture_env=False)
    made = {}
    for experiment, name, params, metrics in [
        ("churn", "rf", {"model": "rf"}, {"auc": 0.81, "loss": float("nan")}),
        ("churn", "gbm", {"model": "gbm"}, {"auc": 0.88, "loss": 0.3}),
        ("iris", "svm", {"model": "svm"}, {"acc": 0.97}),
    ]:
        run = tracking.create_run(experiment, name=name, tags={"team": "risk"})
        tracking.log_params(run.id, params)
        tracking.log_metrics(run.id, metrics)
        tracking.run_artifacts.log_bytes(run.id, f"notes of {name}".encode(), "notes/readme.txt")
        tracking.end_run(run.id)
        made[name] = run.id
    tracking.close()
    registry = RegistryClient(settings)
    add_version(registry, "churn", tmp_path)
    add_version(registry, "churn", tmp_path)
    evaluate(registry, "churn", 2)
    add_version(registry, "fraud", tmp_path)
    registry.set_alias("churn", "staging", 1, reason="first try")
    registry.set_policy("churn", {"gates": ["accuracy >= 0.9"]})
    return made


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings.load(home=tmp_path / "store-home")
    runs = _fill(settings, tmp_path)
    accounts = AccountService(open_store(settings.db_url))
    tokens = {}
    for user, role in [("ana", "editor"), ("vic", "viewer"), ("aby", "approver")]:
        accounts.create_user(user, role=role)
        tokens[user] = accounts.create_token(user, "cli")[1]
    with live_server(settings, ServerConfig(auth="tokens")) as server:
        yield World(settings.home, tmp_path / "client-home", server.url, tokens, runs)


READS = [
    ("experiments", "list"),
    ("experiments", "list", "-f", "name = 'churn'"),
    ("runs", "list"),
    ("runs", "list", "-e", "churn", "-o", "metrics.auc desc"),
    ("runs", "list", "-f", "params.model = 'svm'"),
    ("runs", "list", "--limit", "2"),
    ("models", "list"),
    ("models", "list", "--limit", "1"),
    ("models", "show", "churn"),
    ("models", "show", "churn/2"),
    ("models", "show", "churn@staging"),
    ("models", "history", "churn"),
    ("models", "events"),
    ("models", "events", "--model", "fraud"),
    ("models", "policy", "show", "churn"),
]


def test_reads_print_the_same_json_against_the_server(world: World) -> None:
    for args in READS:
        assert _json(world.remote(*args, "--json")) == _json(world.embedded(*args, "--json")), args
    rf, gbm = world.runs["rf"], world.runs["gbm"]
    for args in [("runs", "show", rf), ("runs", "compare", rf, gbm)]:
        remote = _json(world.remote(*args, "--json"))
        assert remote == _json(world.embedded(*args, "--json")), args
    shown = _json(world.remote("runs", "show", rf, "--json"))
    assert shown["metrics"]["auc"] == 0.81
    assert shown["params"] == {"model": "rf"}
    assert [a["path"] for a in shown["artifacts"]] == ["notes/readme.txt"]


def test_tables_read_the_same_against_the_server(world: World) -> None:
    for args in [("runs", "list"), ("models", "list"), ("models", "show", "churn/2")]:
        remote, embedded = world.remote(*args), world.embedded(*args)
        assert remote.exit_code == embedded.exit_code == 0, remote.stderr
        assert remote.stdout == embedded.stdout


def test_a_model_card_is_rendered_by_the_server(world: World, tmp_path: Path) -> None:
    remote, embedded = (
        world.remote("models", "card", "churn", "2"),
        world.embedded("models", "card", "churn", "2"),
    )
    assert remote.exit_code == 0, remote.stderr
    assert remote.stdout == embedded.stdout
    assert remote.stdout.startswith("# churn v2")
    out = tmp_path / "card.html"
    written = world.remote("models", "card", "churn", "2", "--out", str(out))
    assert written.exit_code == 0, written.stderr
    assert out.read_text("utf-8").lstrip().lower().startswith("<!doctype html>")


def test_a_paged_listing_continues_with_the_servers_token(world: World) -> None:
    first = _json(world.remote("models", "list", "--limit", "1", "--json"))
    assert first["next_page_token"]
    rest = _json(
        world.remote(
            "models", "list", "--limit", "1", "--page-token", first["next_page_token"], "--json"
        )
    )
    assert [m["name"] for m in first["items"] + rest["items"]] == ["churn", "fraud"]


def test_writes_go_through_the_server_as_the_tokens_user(world: World) -> None:
    moved = _json(
        world.remote("models", "alias", "churn", "staging", "2", "--reason", "v2 wins", "--json")
    )
    assert moved == {"model": "churn", "alias": "staging", "version": 2, "reason": "v2 wins"}
    changes = _json(world.embedded("models", "history", "churn", "--json"))
    assert [(c["version"], c["actor"], c["reason"]) for c in changes][-1] == (2, "ana", "v2 wins")
    assert _json(world.remote("models", "history", "churn", "--json")) == changes

    removed = world.remote("models", "alias", "churn", "staging", "--remove")
    assert removed.exit_code == 0, removed.stderr
    assert "staging" not in _json(world.embedded("models", "show", "churn", "--json"))["aliases"]

    archived = _json(world.remote("models", "archive", "fraud", "1", "--json"))
    assert archived["status"] == "archived"
    assert _json(world.embedded("models", "show", "fraud/1", "--json"))["status"] == "archived"

    approved = world.remote(
        "models", "approve", "churn", "2", "--comment", "looks good", user="aby"
    )
    assert approved.exit_code == 0, approved.stderr
    decisions = _json(world.embedded("models", "show", "churn/2", "--json"))["approvals"]
    assert [(d["decision"], d["actor"]) for d in decisions] == [("approved", "aby")]

    refused = [w("models", "promote", "churn", "1") for w in (world.remote, world.embedded)]
    assert [r.exit_code for r in refused] == [1, 1]
    assert refused[0].stderr == refused[1].stderr  # every reason, as on the store itself
    assert "cannot promote models:/churn/1 to production" in refused[0].stderr

    promoted = world.remote("models", "promote", "churn", "2", "--reason", "ship it")
    assert promoted.exit_code == 0, promoted.stderr
    assert _json(world.embedded("models", "show", "churn", "--json"))["aliases"]["production"] == 2

    policy = _json(
        world.remote("models", "policy", "set", "fraud", "--gate", "roc_auc >= 0.8", "--json")
    )
    assert policy["gates"] == ["roc_auc >= 0.8"]
    assert _json(world.embedded("models", "policy", "show", "fraud", "--json")) == policy
    rejected = world.remote("models", "reject", "churn", "1", "--comment", "leaky", user="aby")
    assert rejected.exit_code == 0, rejected.stderr
    decisions = _json(world.embedded("models", "show", "churn/1", "--json"))["approvals"]
    assert [(d["decision"], d["actor"], d["comment"]) for d in decisions] == [
        ("rejected", "aby", "leaky")
    ]

    gone = world.runs["svm"]
    deleted = _json(
        world.remote("runs", "delete", gone, "--reason", "bad split", "--yes", "--json")
    )
    assert deleted == {"deleted": [gone], "reason": "bad split"}
    listed = {r["id"] for r in _json(world.embedded("runs", "list", "--json"))}
    assert gone not in listed
    assert world.runs["rf"] in listed


def test_a_viewer_gets_a_clear_permission_error_on_a_write(world: World) -> None:
    assert world.remote("models", "list", user="vic").exit_code == 0
    refused = world.remote("models", "alias", "churn", "staging", "2", user="vic")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: ")
    assert "vic" in refused.stderr
    assert "editor" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert _json(world.embedded("models", "show", "churn", "--json"))["aliases"] == {"staging": 1}
    no_token = world.remote("runs", "list", user="nobody")
    assert no_token.exit_code == 1
    assert "token" in no_token.stderr.lower()


def test_an_unreachable_server_is_one_clear_line(world: World) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for args in [("runs", "list"), ("models", "list")]:
        failed = world.remote(*args, url=f"http://127.0.0.1:{port}")
        assert failed.exit_code == 1, failed.stdout
        assert f"cannot reach the loopml server at http://127.0.0.1:{port}" in failed.stderr
        assert "Traceback" not in failed.stderr


def test_calls_with_no_route_yet_say_so(world: World, tmp_path: Path) -> None:
    for args in [
        ("models", "register", str(tmp_path), "churn"),
        ("models", "roles", "list"),
        ("models", "webhooks", "list"),
    ]:
        refused = world.remote(*args)
        assert refused.exit_code == 2, (args, refused.stderr)
        assert "not available against a loopml server yet" in refused.stderr
        assert "Traceback" not in refused.stderr


def test_commands_with_no_remote_mode_still_refuse(world: World) -> None:
    rf = world.runs["rf"]
    for args in [
        ("models", "lineage", "churn/2"),
        ("models", "evaluate", "churn/2", "--data", "datasets:/holdout/1", "--target", "y"),
        ("artifacts", "list", f"runs:/{rf}"),
        ("lineage", f"runs:/{rf}"),
        ("gc", "--dry-run"),
        ("data", "list"),
    ]:
        refused = world.remote(*args)
        assert refused.exit_code == 2, (args, refused.stdout, refused.stderr)
        assert "LOOPML_TRACKING_URI is set" in refused.stderr, args
