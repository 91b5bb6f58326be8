"""``loopml users``, ``loopml tokens`` and ``loopml server``: accounts from the command line,
and a real server process that refuses to be exposed without authentication."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from loopml.server import AccountService
from loopml.store import open_store


def test_users_and_tokens_from_the_cli(cli: Any, home: Path) -> None:
    made = cli.json("users", "create", "ana", "--role", "admin")
    assert made["grants"] == {"*": "admin"}
    assert cli.json("users", "grant", "ana", "approver", "--scope", "model:churn")["role"] == (
        "approver"
    )
    token = cli.json("tokens", "create", "ana", "--name", "ci", "--expires-in", "1d")
    assert token["token"].startswith("lml_")
    assert token["expires_at"] > token["created_at"]
    listed = cli.json("tokens", "list", "--user", "ana")
    assert [t["id"] for t in listed] == [token["id"]]
    assert "token" not in listed[0]
    accounts = AccountService(open_store(f"sqlite:///{home}/loopml.db"))
    assert accounts.authenticate(token["token"]).user == "ana"
    assert cli.json("tokens", "revoke", token["id"])["state"] == "revoked"
    users = cli.json("users", "list")
    assert users[0]["grants"] == {"*": "admin", "model:churn": "approver"}
    plain = cli.run("tokens", "create", "ana")
    assert plain.exit_code == 0
    assert plain.stdout.strip().startswith("lml_")  # the token alone on stdout, for scripts


def test_bad_account_input_is_one_clear_line(cli: Any) -> None:
    bad_role = cli.run("users", "create", "ana", "--role", "owner")
    assert bad_role.exit_code == 2
    assert "viewer, editor, approver, admin" in bad_role.stderr
    missing = cli.run("tokens", "create", "nobody")
    assert missing.exit_code == 1
    assert "user 'nobody' not found" in missing.stderr
    bad_expiry = cli.run("users", "create", "bo")
    assert bad_expiry.exit_code == 0
    assert cli.run("tokens", "create", "bo", "--expires-in", "soon").exit_code == 2


def test_the_server_refuses_other_hosts_without_auth(cli: Any) -> None:
    open_to_all = cli.run("server", "--host", "0.0.0.0", "--port", "1")
    assert open_to_all.exit_code == 1
    assert "without authentication" in open_to_all.stderr
    no_admin = cli.run("server", "--host", "0.0.0.0", "--port", "1", "--auth", "tokens")
    assert no_admin.exit_code == 1
    assert "no active user is an admin" in no_admin.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_real_server_process_answers_with_tokens(cli: Any, home: Path) -> None:
    cli.json("users", "create", "ana", "--role", "viewer")
    token = cli.json("tokens", "create", "ana")["token"]
    port = _free_port()
    env = {**os.environ, "LOOPML_HOME": str(home)}
    argv = [sys.executable, "-m", "loopml", "server", "--port", str(port), "--auth", "tokens"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = _get(f"{base}/api/v1/health")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the server did not start in 30 s"
                time.sleep(0.1)
        assert (status, body["auth"]) == (200, "tokens")
        assert _get(f"{base}/api/v1/whoami")[0] == 401
        assert _get(f"{base}/api/v1/whoami", token)[1]["user"] == "ana"
        assert _get(f"{base}/api/v1/users", token)[0] == 403
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert token not in err.decode()  # tokens never appear in the server's log


def test_commands_refuse_to_read_the_local_store_when_a_server_is_set(cli: Any) -> None:
    env = {"LOOPML_TRACKING_URI": "http://127.0.0.1:5999"}
    refused = cli.run("data", "list", env=env)  # experiments, runs and models go to the server
    assert refused.exit_code == 2
    assert "LOOPML_TRACKING_URI is set" in refused.stderr
    assert cli.run("users", "create", "ana", env=env).exit_code == 0  # the server's own store
