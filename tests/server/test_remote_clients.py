"""The SDK's clients against a server: ``loopml.registry_client()`` follows
``LOOPML_TRACKING_URI`` and returns the embedded client's value objects; both remote clients
refuse clearly what the REST API does not cover yet."""

from __future__ import annotations

from pathlib import Path

import pytest

import loopml
from loopml._remote import error_from
from loopml._sdk.models import registry_client
from loopml.config import Settings
from loopml.errors import ForbiddenError, InvalidInputError, NotFoundError
from loopml.registry import RegistryClient
from loopml.registry.remote import RemoteRegistryClient
from loopml.tracking import TrackingClient
from loopml.tracking.remote import RemoteTrackingClient

from ._models import add_version, evaluate
from ._support import live_server


@pytest.fixture
def store(tmp_path: Path) -> tuple[Settings, RegistryClient]:
    settings = Settings.load(home=tmp_path / "store-home")
    registry = RegistryClient(settings)
    add_version(registry, "churn", tmp_path)
    add_version(registry, "churn", tmp_path)
    evaluate(registry, "churn", 2)
    registry.set_alias("churn", "staging", 2, reason="v2")
    return settings, registry


def test_the_sdk_registry_client_follows_the_tracking_uri(
    tmp_path: Path,
    store: tuple[Settings, RegistryClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, embedded = store
    with live_server(settings) as server:
        monkeypatch.setenv("LOOPML_TRACKING_URI", server.url)
        monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "client-home"))
        loopml.tracking.fluent.reset()
        try:
            remote = registry_client()
            assert isinstance(remote, RemoteRegistryClient)
            assert remote.get_model("churn") == embedded.get_model("churn")
            assert remote.list_versions("churn") == embedded.list_versions("churn")
            assert remote.resolve("models:/churn@staging") == embedded.get_version("churn", 2)
            assert remote.list_evaluations("churn", 2) == embedded.list_evaluations("churn", 2)
            assert remote.get_policy("churn") == embedded.get_policy("churn")
            moved = remote.set_alias("churn", "canary", 1, reason="try v1")
            assert moved == embedded.list_alias_changes("churn", "canary")[-1]
            assert remote.alias_at("churn", "canary", moved.at) == 1
            with pytest.raises(NotFoundError, match="churn@prod"):
                remote.resolve("models:/churn@prod")
            with pytest.raises(InvalidInputError, match="not available against a loopml server"):
                loopml.register_model(str(tmp_path / "pkg-0"), "churn")
            with pytest.raises(InvalidInputError, match="grant_role is not available"):
                remote.grant_role("ana", "approver")
            with pytest.raises(AttributeError):
                remote.no_such_call()  # type: ignore[attr-defined]
        finally:
            loopml.tracking.fluent.reset()
            remote.close()


def test_the_remote_tracking_client_lists_pages_and_refuses_what_has_no_route(
    tmp_path: Path, store: tuple[Settings, RegistryClient]
) -> None:
    settings, _ = store
    embedded = TrackingClient(settings, capture_env=False)
    made = [embedded.create_run("churn", name=f"r{i}").id for i in range(3)]
    embedded.close()
    with live_server(settings) as server:
        remote = RemoteTrackingClient(
            Settings.load(home=tmp_path / "client-home", tracking_uri=server.url)
        )
        try:
            first = remote.list_runs("churn", limit=2)
            rest = remote.list_runs("churn", limit=2, page_token=first.next_page_token)
            assert [r.id for r in first.items + rest.items] == made[::-1]
            assert rest.next_page_token is None
            assert [e.name for e in remote.list_experiments()] == ["churn"]
            remote.delete_run(made[0], reason="bad split")
            assert made[0] not in {r.id for r in remote.search_runs("churn")}
            assert made[0] in {r.id for r in remote.search_runs("churn", include_deleted=True)}
            with pytest.raises(InvalidInputError, match="restore_run is not available"):
                remote.restore_run(made[0])
            with pytest.raises(AttributeError):
                remote.store  # noqa: B018
        finally:
            remote.close()


def test_a_servers_403_is_a_forbidden_error_and_a_permission_error() -> None:
    body = b'{"error": {"code": "forbidden", "message": "needs editor", "details": {"x": 1}}}'
    err = error_from(403, body)
    assert isinstance(err, ForbiddenError)
    assert isinstance(err, PermissionError)
    assert (err.message, err.details) == ("needs editor", {"x": 1})
    unknown = error_from(418, b'{"error": {"code": "teapot", "message": "short and stout"}}')
    assert type(unknown) is loopml.errors.LoopmlError
    assert unknown.message == "short and stout"
