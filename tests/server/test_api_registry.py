"""The registry over REST: models, versions, aliases, policies, approvals, evaluations, cards."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.registry import RegistryClient
from loopml.store import open_store
from loopml.store.audit import history

from ._models import add_version, evaluate
from ._support import Server

V1 = "/api/v1"


@pytest.fixture
def registry(server: Server) -> RegistryClient:
    """The server's registry (the real client over the server's store)."""
    return RegistryClient(server.settings)


@pytest.fixture
def models(registry: RegistryClient, tmp_path: Path) -> RegistryClient:
    """churn v1 (registered) and v2 (evaluated, passing: validated), and fraud v1."""
    add_version(registry, "churn", tmp_path)
    add_version(registry, "churn", tmp_path)
    add_version(registry, "fraud", tmp_path)
    evaluate(registry, "churn", 2)
    return registry


def _error(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body["error"]) >= {"code", "message"}
    return body["error"]  # type: ignore[no-any-return]


def test_models_and_versions_list_and_page(server: Server, models: RegistryClient) -> None:
    viewer = server.user("vic", "viewer")
    page = server.client.get(f"{V1}/models", params={"limit": 1}, headers=viewer).json()
    assert [m["name"] for m in page["models"]] == ["churn"]
    rest = server.client.get(
        f"{V1}/models", params={"page_token": page["next_page_token"]}, headers=viewer
    ).json()
    assert [m["name"] for m in rest["models"]] == ["fraud"]
    assert rest["next_page_token"] is None

    model = server.client.get(f"{V1}/models/churn", headers=viewer).json()
    assert model["latest_version"] == 2
    versions = server.client.get(f"{V1}/models/churn/versions", headers=viewer).json()
    assert [(v["version"], v["status"]) for v in versions["versions"]] == [
        (1, "registered"),
        (2, "validated"),
    ]
    only = server.client.get(
        f"{V1}/models/churn/versions", params={"status": "validated"}, headers=viewer
    ).json()
    assert [v["uri"] for v in only["versions"]] == ["models:/churn/2"]
    one = server.client.get(f"{V1}/models/churn/versions/2", headers=viewer).json()
    assert one["uri"] == "models:/churn/2"
    assert one["package_digest"] == models.get_version("churn", 2).package_digest


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/models/nope", 404),
        ("/models/churn/versions/9", 404),
        ("/models/nope/versions", 404),
        ("/models/churn/versions/0", 400),
        ("/models/churn/versions/-1", 400),
        ("/models/churn/versions/two", 400),
        ("/models/churn/versions/99999999999999999999", 400),
        ("/models/churn/versions/9223372036854775807", 404),
        ("/models/churn/versions?status=shipped", 400),
        ("/models?limit=0", 400),
        ("/models?page_token=forged", 400),
        ("/models/churn/versions/1/evaluations", 200),
        ("/models/churn/versions/7/evaluations", 404),
        ("/models/churn/versions/1/card?format=pdf", 400),
        ("/models/churn/versions/8/card", 404),
        ("/models/churn/alias-history?alias=nope", 404),
        ("/models/churn/alias-history?at=5", 400),
        ("/models/churn/alias-history?alias=prod&at=99999999999999999999", 400),
        ("/evaluations/nope", 404),
        ("/registry/events?after=-1", 400),
        ("/registry/events?after=99999999999999999999", 400),
    ],
)
def test_bad_reads_answer_4xx_in_the_error_shape(
    server: Server, models: RegistryClient, path: str, status: int
) -> None:
    response = server.client.get(V1 + path, headers=server.user("vic", "viewer"))
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        _error(response, status)


def test_aliases_set_list_move_remove_and_keep_history(
    server: Server, models: RegistryClient
) -> None:
    editor = server.user("eve", "editor")
    url = f"{V1}/models/churn/aliases/staging"
    assert server.client.put(url, json={"version": 1}, headers=editor).status_code == 200
    moved = server.client.put(
        url, json={"version": 2, "expected": 1, "reason": "newer"}, headers=editor
    ).json()
    assert (moved["previous_version"], moved["version"], moved["actor"]) == (1, 2, "eve")
    stale = server.client.put(url, json={"version": 1, "expected": 1}, headers=editor)
    _error(stale, 409)
    listed = server.client.get(f"{V1}/models/churn/aliases", headers=editor).json()
    assert listed == {"aliases": {"staging": 2}}
    assert server.client.delete(url, headers=editor).status_code == 200
    assert models.get_model("churn").aliases == {}
    changes = server.client.get(
        f"{V1}/models/churn/alias-history", params={"alias": "staging"}, headers=editor
    ).json()["changes"]
    assert [(c["previous_version"], c["version"]) for c in changes] == [
        (None, 1),
        (1, 2),
        (2, None),
    ]
    at = server.client.get(
        f"{V1}/models/churn/alias-history",
        params={"alias": "staging", "at": changes[1]["at"]},
        headers=editor,
    ).json()
    assert at["version"] == 2


@pytest.mark.parametrize(
    ("alias", "body", "status"),
    [
        ("9lives", {"version": 1}, 400),
        ("bad%20name", {"version": 1}, 400),
        ("x" * 300, {"version": 1}, 400),
        ("production", {"version": 1}, 400),  # protected: promote moves it
        ("staging", {}, 400),
        ("staging", {"version": "1"}, 400),
        ("staging", {"version": True}, 400),
        ("staging", {"version": 1.5}, 400),
        ("staging", {"version": 0}, 400),
        ("staging", {"version": 2**63}, 400),
        ("staging", {"version": 99}, 404),
        ("staging", {"version": 1, "expected": "one"}, 400),
        ("staging", {"version": 1, "reason": 5}, 400),
    ],
)
def test_bad_alias_writes_are_refused(
    server: Server, models: RegistryClient, alias: str, body: dict[str, object], status: int
) -> None:
    editor = server.user("eve", "editor")
    response = server.client.put(f"{V1}/models/churn/aliases/{alias}", json=body, headers=editor)
    _error(response, status)
    assert models.get_model("churn").aliases == {}


def test_a_body_that_is_not_an_object_is_refused(server: Server, models: RegistryClient) -> None:
    editor = server.user("eve", "editor")
    url = f"{V1}/models/churn/aliases/staging"
    _error(server.client.put(url, content=b"[1]", headers=editor), 400)
    _error(server.client.put(url, content=b"{nope", headers=editor), 400)
    _error(server.client.delete(f"{V1}/models/churn/aliases/never", headers=editor), 404)


def test_a_viewer_cannot_write(server: Server, models: RegistryClient) -> None:
    viewer = server.user("vic", "viewer")
    put = server.client.put(
        f"{V1}/models/churn/aliases/staging", json={"version": 1}, headers=viewer
    )
    assert _error(put, 403)["code"]
    policy = server.client.put(f"{V1}/models/churn/policy", json={}, headers=viewer)
    _error(policy, 403)


def test_policies_round_trip_and_bad_ones_are_refused(
    server: Server, models: RegistryClient
) -> None:
    editor = server.user("eve", "editor")
    url = f"{V1}/models/churn/policy"
    body = {"gates": ["accuracy >= 0.9"], "require_approval": True, "approver_role": "ml-lead"}
    set_ = server.client.put(url, json=body, headers=editor)
    assert set_.status_code == 200, set_.text
    assert server.client.get(url, headers=editor).json() == {
        **body,
        "protected_aliases": ["production"],
    }
    for bad in (
        {"gates": "accuracy >= 0.9"},
        {"gates": [5]},
        {"gates": 5},
        {"require_approval": "yes"},
        {"approver_role": 3},
        {"protected_aliases": ["9bad"]},
        {"gate": ["accuracy >= 0.9"]},
        {"gates": ["accuracy >>> 0.9"]},
    ):
        _error(server.client.put(url, json=bad, headers=editor), 400)
    assert models.get_policy("churn").approver_role == "ml-lead"
    _error(server.client.get(f"{V1}/models/nope/policy", headers=editor), 404)


def test_status_moves_by_hand_and_refuses_approved(server: Server, models: RegistryClient) -> None:
    editor = server.user("eve", "editor")
    url = f"{V1}/models/churn/versions/1/status"
    moved = server.client.post(url, json={"status": "validated"}, headers=editor)
    assert moved.json()["status"] == "validated"
    _error(server.client.post(url, json={"status": "approved"}, headers=editor), 400)
    _error(server.client.post(url, json={"status": "shipped"}, headers=editor), 400)
    _error(server.client.post(url, json={"status": 3}, headers=editor), 400)


def test_approvals_need_the_approver_role_on_the_model(
    server: Server, models: RegistryClient
) -> None:
    models.set_policy("churn", {"require_approval": True})
    url = f"{V1}/models/churn/versions/2/approve"
    viewer = server.user("vic", "viewer")
    _error(server.client.post(url, json={}, headers=viewer), 403)
    editor = server.user("eve", "editor")
    _error(server.client.post(url, json={}, headers=editor), 403)
    server.accounts.create_user("fay", role="viewer")
    server.accounts.grant("fay", "approver", "model:fraud")
    _, secret = server.accounts.create_token("fay")
    fraud_approver = {"Authorization": f"Bearer {secret}"}
    refused = _error(server.client.post(url, json={}, headers=fraud_approver), 403)
    assert "model:churn" in str(refused["message"])
    _error(
        server.client.post(
            f"{V1}/models/churn/versions/2/reject", json={"comment": "no"}, headers=fraud_approver
        ),
        403,
    )
    assert models.get_version("churn", 2).status == "validated"
    assert models.list_approvals("churn", 2) == []


def test_an_approval_through_rest_unblocks_promotion_and_names_the_user(
    server: Server, models: RegistryClient
) -> None:
    models.set_policy(
        "churn",
        {"gates": ["accuracy >= 0.9"], "require_approval": True, "approver_role": "ml-lead"},
    )
    models.grant_role("ann", "ml-lead")  # the policy's own role, held in the registry
    server.accounts.create_user("ann", role="viewer")
    server.accounts.grant("ann", "approver", "model:churn")
    _, secret = server.accounts.create_token("ann")
    ann = {"Authorization": f"Bearer {secret}"}
    editor = server.user("eve", "editor")
    base = f"{V1}/models/churn/versions/2"

    blocked = server.client.get(f"{base}/blockers", headers=editor).json()
    assert not blocked["promotable"]
    _error(server.client.post(f"{base}/promote", json={}, headers=editor), 422)

    approved = server.client.post(f"{base}/approve", json={"comment": "ok"}, headers=ann)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["actor"], approved.json()["decision"]) == ("ann", "approved")
    assert models.get_version("churn", 2).status == "approved"
    assert server.client.get(f"{base}/blockers", headers=editor).json()["promotable"]
    promoted = server.client.post(f"{base}/promote", json={"reason": "ship"}, headers=editor)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["aliases"] == ["production"]

    with open_store(server.settings.db_url).read() as conn:
        rows = history(conn, "model_version", "churn/2")
    actors = {row["action"]: row["actor"] for row in rows}
    assert actors["model_version.approved"] == "ann"
    assert [
        a["actor"] for a in server.client.get(f"{base}/approvals", headers=ann).json()["approvals"]
    ] == ["ann"]


def test_the_registry_policy_role_still_applies(server: Server, models: RegistryClient) -> None:
    models.set_policy("churn", {"require_approval": True, "approver_role": "ml-lead"})
    approver = server.user("al", "approver")  # approver on the workspace, not ml-lead
    response = server.client.post(
        f"{V1}/models/churn/versions/2/approve", json={}, headers=approver
    )
    assert "ml-lead" in _error(response, 403)["message"]
    assert models.get_version("churn", 2).status == "validated"


def test_a_rejection_needs_a_comment(server: Server, models: RegistryClient) -> None:
    approver = server.user("al", "approver")
    url = f"{V1}/models/churn/versions/2/reject"
    _error(server.client.post(url, json={}, headers=approver), 400)
    _error(server.client.post(url, json={"comment": ["x"]}, headers=approver), 400)
    rejected = server.client.post(url, json={"comment": "recall"}, headers=approver)
    assert rejected.json()["decision"] == "rejected"
    assert models.get_version("churn", 2).status == "rejected"
    _error(
        server.client.post(f"{V1}/models/churn/versions/1/approve", json={}, headers=approver), 409
    )
    _error(
        server.client.post(
            f"{V1}/models/churn/versions/99999999999999999999/approve", json={}, headers=approver
        ),
        400,
    )


def test_evaluations_show_slices_and_gates(server: Server, models: RegistryClient) -> None:
    viewer = server.user("vic", "viewer")
    listed = server.client.get(f"{V1}/models/churn/versions/2/evaluations", headers=viewer)
    (evaluation,) = listed.json()["evaluations"]
    assert evaluation["slices"] == {"region": {"eu": {"accuracy": 0.91, "rows": 10}}}
    assert evaluation["gates"][0]["expression"] == "accuracy >= 0.9"
    one = server.client.get(f"{V1}/evaluations/{evaluation['id']}", headers=viewer).json()
    assert one["passed"] is True
    assert one["metrics"] == {"accuracy": 0.93}


def test_events_page_by_cursor_and_filter(server: Server, models: RegistryClient) -> None:
    viewer = server.user("vic", "viewer")
    url = f"{V1}/registry/events"
    first = server.client.get(url, params={"limit": 2}, headers=viewer).json()
    assert len(first["events"]) == 2
    rest = server.client.get(url, params={"after": first["next_after"]}, headers=viewer).json()
    ids = [e["id"] for e in first["events"] + rest["events"]]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    fraud = server.client.get(url, params={"model": "fraud"}, headers=viewer).json()
    assert {e["model"] for e in fraud["events"]} == {"fraud"}


def test_the_model_card_comes_as_json_markdown_and_html(
    server: Server, models: RegistryClient
) -> None:
    viewer = server.user("vic", "viewer")
    url = f"{V1}/models/churn/versions/2/card"
    card = server.client.get(url, headers=viewer)
    assert card.status_code == 200, card.text
    assert card.json()["markdown"].startswith("# churn v2")
    assert card.json()["data"]["version"]["version"] == 2
    markdown = server.client.get(url, params={"format": "markdown"}, headers=viewer)
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# churn v2")
    page = server.client.get(url, params={"format": "html"}, headers=viewer)
    assert page.headers["content-type"].startswith("text/html")
    assert "churn v2" in page.text
