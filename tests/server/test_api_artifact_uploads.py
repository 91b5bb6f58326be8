"""``/api/v1`` run artifacts that resume: ranged downloads and staged, chunked uploads."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from loopml.config import Settings
from loopml.server import ServerConfig
from loopml.tracking import TrackingClient

from ._support import Server, make_server

V1 = "/api/v1"
LIMIT = 64 * 1024  # the body limit: per chunk


@pytest.fixture
def tracking(server_settings: Settings) -> Iterator[TrackingClient]:
    client = TrackingClient(server_settings, capture_env=False)
    yield client
    client.close()


@pytest.fixture
def staging_server(server_settings: Settings) -> Iterator[Server]:
    yield from make_server(server_settings, ServerConfig(auth="tokens", max_body_bytes=LIMIT))


def _error(reply: Any, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error: dict[str, Any] = reply.json()["error"]
    return error


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_download_resumes_from_a_byte_range(
    open_server: Server, tracking: TrackingClient
) -> None:
    http = open_server.client
    run_id = tracking.create_run("a").id
    content = bytes(range(256)) * 10_000
    tracking.run_artifacts.log_bytes(run_id, content, "model/w.bin")
    url = f"{V1}/runs/{run_id}/artifacts/model/w.bin"

    whole = http.get(url)
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    tail = http.get(url, headers={"Range": "bytes=1000000-"})
    assert tail.status_code == 206
    assert tail.content == content[1_000_000:]
    assert tail.headers["content-range"] == f"bytes 1000000-{len(content) - 1}/{len(content)}"
    assert tail.headers["etag"] == f'"{_sha(content)}"'
    middle = http.get(url, headers={"Range": "bytes=10-19"})
    assert (middle.status_code, middle.content) == (206, content[10:20])
    last = http.get(url, headers={"Range": "bytes=-5"})
    assert last.content == content[-5:]
    beyond = http.get(url, headers={"Range": f"bytes={len(content)}-"})
    assert _error(beyond, 416)["code"] == "range_not_satisfiable"
    assert beyond.headers["content-range"] == f"bytes */{len(content)}"
    assert _error(http.get(url, headers={"Range": "bytes=9-3"}), 416)
    assert _error(http.get(url, headers={"Range": "lines=1-2"}), 400)


def test_a_staged_upload_takes_chunks_at_its_offset_and_commits_on_complete(
    staging_server: Server, tracking: TrackingClient
) -> None:
    http, editor = staging_server.client, staging_server.user("eve", "editor")
    run_id = tracking.create_run("a").id
    content = bytes(range(256)) * 1000  # 256,000 bytes: four chunks of the 64 KiB limit
    base = f"{V1}/runs/{run_id}/artifact-uploads"
    made = http.post(base, json={"path": "model/w.bin", "size": len(content)}, headers=editor)
    assert made.status_code == 201, made.text
    upload = made.json()
    assert (upload["offset"], upload["chunk_limit"], upload["path"]) == (0, LIMIT, "model/w.bin")
    url = f"{base}/{upload['upload_id']}"

    for start in range(0, len(content), LIMIT):
        sent = http.put(
            url, params={"offset": start}, content=content[start : start + LIMIT], headers=editor
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["offset"] == min(start + LIMIT, len(content))
    assert http.get(url, headers=editor).json()["offset"] == len(content)
    with pytest.raises(Exception, match="artifact"):
        tracking.run_artifacts.read_bytes(run_id, "model/w.bin")  # not committed yet

    done = http.post(f"{url}/complete", json={"sha256": _sha(content)}, headers=editor)
    assert done.status_code == 201, done.text
    assert done.json() == {"path": "model/w.bin", "size": len(content), "digest": _sha(content)}
    assert tracking.run_artifacts.read_bytes(run_id, "model/w.bin") == content
    assert _error(http.post(f"{url}/complete", json={"sha256": _sha(content)}, headers=editor), 404)
    assert _error(http.get(url, headers=editor), 404)


def test_a_chunk_off_the_offset_or_over_the_limit_changes_nothing(
    staging_server: Server, tracking: TrackingClient
) -> None:
    http, editor = staging_server.client, staging_server.user("eve", "editor")
    run_id = tracking.create_run("a").id
    url = (
        f"{V1}/runs/{run_id}/artifact-uploads/"
        + http.post(
            f"{V1}/runs/{run_id}/artifact-uploads",
            json={"path": "f.bin", "size": 300},
            headers=editor,
        ).json()["upload_id"]
    )
    assert (
        http.put(url, params={"offset": 0}, content=b"a" * 100, headers=editor).status_code == 200
    )

    again = _error(http.put(url, params={"offset": 0}, content=b"a" * 100, headers=editor), 409)
    assert again["details"]["offset"] == 100
    assert "offset 100" in again["message"]
    beyond = _error(http.put(url, params={"offset": 500}, content=b"b", headers=editor), 409)
    assert beyond["details"]["offset"] == 100
    assert _error(http.put(url, params={"offset": -1}, content=b"b", headers=editor), 400)
    assert _error(http.put(url, content=b"b", headers=editor), 400)  # no offset
    assert _error(
        http.put(url, params={"offset": 100}, content=b"c" * (LIMIT + 1), headers=editor), 413
    )
    assert _error(http.put(url, params={"offset": 100}, content=b"c" * 201, headers=editor), 400)
    assert http.get(url, headers=editor).json()["offset"] == 100
    early = http.post(f"{url}/complete", json={"sha256": _sha(b"a" * 100)}, headers=editor)
    assert "holds 100 bytes, not the 300" in _error(early, 400)["message"]
    assert _error(http.get(f"{V1}/runs/{run_id}/artifacts/f.bin", headers=editor), 404)


def test_a_wrong_sha256_at_complete_commits_nothing(
    staging_server: Server, tracking: TrackingClient
) -> None:
    http, editor = staging_server.client, staging_server.user("eve", "editor")
    run_id = tracking.create_run("a").id
    url = (
        f"{V1}/runs/{run_id}/artifact-uploads/"
        + http.post(
            f"{V1}/runs/{run_id}/artifact-uploads", json={"path": "f.bin"}, headers=editor
        ).json()["upload_id"]
    )
    http.put(url, params={"offset": 0}, content=b"real bytes", headers=editor)

    wrong = _error(
        http.post(f"{url}/complete", json={"sha256": _sha(b"other")}, headers=editor), 400
    )
    assert wrong["details"]["actual"] == _sha(b"real bytes")
    assert _error(http.post(f"{url}/complete", json={"sha256": "xyz"}, headers=editor), 400)
    short = http.post(
        f"{url}/complete", json={"sha256": _sha(b"real bytes"), "size": 3}, headers=editor
    )
    assert _error(short, 400)
    assert _error(http.get(f"{V1}/runs/{run_id}/artifacts/f.bin", headers=editor), 404)
    assert http.get(url, headers=editor).json()["offset"] == 10  # still there to retry


def test_hostile_paths_runs_users_and_ids_are_refused(
    staging_server: Server, tracking: TrackingClient
) -> None:
    http = staging_server.client
    eve, ann = staging_server.user("eve", "editor"), staging_server.user("ann", "editor")
    viewer = staging_server.user("vic", "viewer")
    run_id, other_run = tracking.create_run("a").id, tracking.create_run("a").id
    base = f"{V1}/runs/{run_id}/artifact-uploads"
    for path in ("../escape.bin", "a/../../x", "/etc/passwd", "a\x00b", "a\\b", ""):
        assert _error(http.post(base, json={"path": path}, headers=eve), 400), path
    assert _error(http.post(base, json={"path": "f", "size": -1}, headers=eve), 400)
    assert _error(http.post(base, json={"path": "f"}, headers=viewer), 403)
    assert _error(
        http.post(f"{V1}/runs/nope/artifact-uploads", json={"path": "f"}, headers=eve), 404
    )

    upload_id = http.post(base, json={"path": "f.bin"}, headers=eve).json()["upload_id"]
    url = f"{base}/{upload_id}"
    assert _error(http.put(url, params={"offset": 0}, content=b"x", headers=viewer), 403)
    assert _error(http.put(url, params={"offset": 0}, content=b"x", headers=ann), 403)
    assert _error(http.get(url, headers=ann), 403)
    elsewhere = f"{V1}/runs/{other_run}/artifact-uploads/{upload_id}"
    assert _error(http.put(elsewhere, params={"offset": 0}, content=b"x", headers=eve), 404)
    assert _error(http.post(f"{elsewhere}/complete", json={"sha256": _sha(b"")}, headers=eve), 404)
    for bad in ("..%2F..%2Fx", "0" * 31, "nope"):
        assert _error(http.get(f"{base}/{bad}", headers=eve), 404)
    presign = f"{V1}/runs/{run_id}/artifacts/presign"
    put = {"path": "f.bin", "method": "PUT", "sha256": _sha(b"x")}
    assert _error(http.post(presign, json=put, headers=viewer), 403)
    assert _error(http.post(presign, json={**put, "path": "../x"}, headers=eve), 400)
    tracking.delete_run(run_id)
    assert _error(http.post(f"{url}/complete", json={"sha256": _sha(b"")}, headers=eve), 404)

    abandoned = http.delete(url, headers=eve)
    assert abandoned.status_code == 200
    assert abandoned.json()["abandoned"] is True
    assert _error(http.get(url, headers=eve), 404)


def test_an_idle_upload_expires(server_settings: Settings, tracking: TrackingClient) -> None:
    config = ServerConfig(auth="none", upload_ttl_s=0.3)
    for server in make_server(server_settings, config):
        run_id = tracking.create_run("a").id
        base = f"{V1}/runs/{run_id}/artifact-uploads"
        first = server.client.post(base, json={"path": "f.bin"}).json()["upload_id"]
        assert server.client.get(f"{base}/{first}").status_code == 200
        time.sleep(0.5)
        assert "expire" in _error(server.client.get(f"{base}/{first}"), 404)["message"]
        server.client.post(base, json={"path": "g.bin"})  # a new upload sweeps the old
        assert not (server_settings.home / "cache" / "uploads" / first).exists()


def test_presigned_urls_need_a_store_clients_can_reach(
    open_server: Server, tracking: TrackingClient
) -> None:
    run_id = tracking.create_run("a").id
    tracking.run_artifacts.log_bytes(run_id, b"x", "f.bin")
    url = f"{V1}/runs/{run_id}/artifacts/presign"
    refused = _error(open_server.client.post(url, json={"path": "f.bin", "method": "GET"}), 409)
    assert refused["details"] == {"direct": False}
    put = {"path": "g.bin", "method": "PUT", "sha256": _sha(b"y")}
    assert _error(open_server.client.post(url, json=put), 409)
    assert _error(open_server.client.post(url, json={**put, "method": "POST"}), 400)


def test_an_experiment_editor_uploads_to_its_runs_only(
    staging_server: Server, tracking: TrackingClient
) -> None:
    http = staging_server.client
    bo = staging_server.user("bo", "viewer")
    staging_server.accounts.grant("bo", "editor", "experiment:churn")
    mine, theirs = tracking.create_run("churn").id, tracking.create_run("fraud").id
    made = http.post(f"{V1}/runs/{mine}/artifact-uploads", json={"path": "f.bin"}, headers=bo)
    assert made.status_code == 201, made.text
    url = f"{V1}/runs/{mine}/artifact-uploads/{made.json()['upload_id']}"
    assert http.put(url, params={"offset": 0}, content=b"abc", headers=bo).status_code == 200
    done = http.post(f"{url}/complete", json={"sha256": _sha(b"abc")}, headers=bo)
    assert done.status_code == 201, done.text
    refused = http.post(f"{V1}/runs/{theirs}/artifact-uploads", json={"path": "f"}, headers=bo)
    assert _error(refused, 403)["details"]["scope"] == "experiment:fraud"
    put = {"path": "g.bin", "method": "PUT", "sha256": _sha(b"y")}
    presign = http.post(f"{V1}/runs/{theirs}/artifacts/presign", json=put, headers=bo)
    assert _error(presign, 403)["details"]["scope"] == "experiment:fraud"
