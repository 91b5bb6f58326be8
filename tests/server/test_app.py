"""The server's HTTP surface: tokens, roles, attribution, error shapes, limits, OpenAPI."""

from __future__ import annotations

import base64
import re

from loopml.server.app import operations
from loopml.store.audit import history

from ._support import Server


def test_without_a_token_only_health_answers(server: Server) -> None:
    assert server.client.get("/api/v1/health").json()["status"] == "ok"
    reply = server.client.get("/api/v1/whoami")
    assert reply.status_code == 401
    error = reply.json()["error"]
    assert error["code"] == "unauthorized"
    assert "loopml tokens create" in error["message"]


def test_a_bearer_or_basic_token_names_the_caller(server: Server) -> None:
    headers = server.user("ana", "editor")
    assert server.client.get("/api/v1/whoami", headers=headers).json() == {
        "user": "ana",
        "grants": {"*": "editor"},
        "authenticated": True,
    }
    basic = base64.b64encode(f"ana:{server.tokens['ana']}".encode()).decode()
    reply = server.client.get("/api/v1/whoami", headers={"Authorization": f"Basic {basic}"})
    assert reply.json()["user"] == "ana"
    bad = server.client.get("/api/v1/whoami", headers={"Authorization": "Bearer lml_x"})
    assert bad.status_code == 401


def test_roles_gate_what_a_caller_may_do(server: Server) -> None:
    viewer = server.user("vic", "viewer")
    admin = server.user("ada", "admin")
    refused = server.client.get("/api/v1/users", headers=viewer)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "forbidden"
    assert error["details"] == {
        "user": "vic",
        "needs": "admin",
        "holds": "viewer",
        "scope": "*",
    }
    made = server.client.post(
        "/api/v1/users", headers=admin, json={"name": "eve", "role": "editor"}
    )
    assert made.status_code == 201
    assert made.json()["grants"] == {"*": "editor"}
    listed = server.client.get("/api/v1/users", headers=admin).json()["users"]
    assert [u["name"] for u in listed] == ["ada", "eve", "vic"]


def test_a_token_is_shown_once_and_a_caller_manages_only_their_own(server: Server) -> None:
    ana = server.user("ana", "viewer")
    server.user("bob", "viewer")
    made = server.client.post("/api/v1/tokens", headers=ana, json={"name": "ci"})
    assert made.status_code == 201
    assert made.json()["token"].startswith("lml_")
    listed = server.client.get("/api/v1/tokens", headers=ana).json()["tokens"]
    assert {t["user"] for t in listed} == {"ana"}
    assert all("token" not in t for t in listed)
    for_bob = server.client.post("/api/v1/tokens", headers=ana, json={"user": "bob"})
    assert for_bob.status_code == 403
    bob_token = server.accounts.list_tokens("bob")[0].id
    assert server.client.delete(f"/api/v1/tokens/{bob_token}", headers=ana).status_code == 403
    own = made.json()["id"]
    assert server.client.delete(f"/api/v1/tokens/{own}", headers=ana).json()["state"] == "revoked"
    new = {"Authorization": f"Bearer {made.json()['token']}"}
    assert server.client.get("/api/v1/whoami", headers=new).status_code == 401


def test_writes_are_attributed_to_the_token_user(server: Server) -> None:
    admin = server.user("ada", "admin")
    server.client.post("/api/v1/users", headers=admin, json={"name": "eve"})
    with server.accounts.store.read() as conn:
        rows = history(conn, "user", "eve")
    assert [(r["action"], r["actor"]) for r in rows] == [("user.create", "ada")]


def test_token_free_mode_trusts_the_named_user(open_server: Server) -> None:
    reply = open_server.client.post(
        "/api/v1/users", json={"name": "eve"}, headers={"loopml-user": "carol"}
    )
    assert reply.status_code == 201
    with open_server.accounts.store.read() as conn:
        assert history(conn, "user", "eve")[0]["actor"] == "carol"
    me = open_server.client.get("/api/v1/whoami", headers={"loopml-user": "carol"}).json()
    assert me == {"user": "carol", "grants": {"*": "admin"}, "authenticated": False}


def test_bad_requests_get_loopml_errors_never_a_5xx(server: Server) -> None:
    admin = server.user("ada", "admin")
    cases = [
        server.client.post("/api/v1/users", headers=admin, content=b"{not json"),
        server.client.post("/api/v1/users", headers=admin, content=b"[1, 2]"),
        server.client.post("/api/v1/users", headers=admin, json={"name": 7}),
        server.client.post("/api/v1/users", headers=admin, json={"role": "admin"}),
        server.client.post("/api/v1/users", headers=admin, json={"name": "x", "role": "god"}),
        server.client.post("/api/v1/tokens", headers=admin, json={"expires_in_s": True}),
        server.client.post("/api/v1/tokens", headers=admin, json={"expires_in_s": -5}),
        server.client.get("/api/v1/nothing-here", headers=admin),
        server.client.put("/api/v1/health", headers=admin),
        server.client.post("/api/v1/users", headers=admin, content=b"x" * 5000),
    ]
    statuses = [reply.status_code for reply in cases]
    assert statuses == [400, 400, 400, 400, 400, 400, 400, 404, 405, 413]
    for reply in cases:
        error = reply.json()["error"]
        assert error["code"]
        assert error["message"]


def test_the_openapi_document_lists_every_operation_with_its_role(server: Server) -> None:
    document = server.client.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for op in operations():
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", op.path)  # {key:path} is {key} there
        entry = document["paths"][path][op.method.lower()]
        assert entry["summary"] == op.summary
        assert entry["x-loopml-role"] == (None if op.public else op.role)


def test_a_retried_write_with_an_idempotency_key_is_applied_once(server: Server) -> None:
    admin = server.user("ada", "admin")
    headers = {**admin, "Idempotency-Key": "make-eve-1"}
    first = server.client.post("/api/v1/users", headers=headers, json={"name": "eve"})
    again = server.client.post("/api/v1/users", headers=headers, json={"name": "eve"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replay"] == "true"
    fresh = server.client.post(
        "/api/v1/users", headers={**admin, "Idempotency-Key": "make-eve-2"}, json={"name": "eve"}
    )
    assert fresh.status_code == 409  # a new key really runs: eve exists now
    retried = server.client.post(
        "/api/v1/users", headers={**admin, "Idempotency-Key": "make-eve-2"}, json={"name": "eve"}
    )
    assert (retried.status_code, retried.json()) == (409, fresh.json())
    with server.accounts.store.read() as conn:
        assert [r["action"] for r in history(conn, "user", "eve")] == ["user.create"]
    bad = server.client.post(
        "/api/v1/users", headers={**admin, "Idempotency-Key": "no spaces"}, json={"name": "x"}
    )
    assert bad.status_code == 400
    assert "Idempotency-Key" in bad.json()["error"]["message"]
