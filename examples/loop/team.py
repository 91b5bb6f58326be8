"""The demo's team section: one loopml server for everyone, over the same store.

An admin account and a viewer account get API tokens; ``loopml server --auth tokens``
serves the store the demo just filled. Then, over HTTP:

1. the REST API answers who the caller is, the model in production and its loop status;
2. training code logs a run to the server only by setting ``LOOPML_TRACKING_URI`` (its
   metrics are journaled locally and sent in idempotent batches);
3. the web UI's pages (the loop, the run, the model) render for a signed-in browser;
4. a viewer's token cannot approve a model version: 403, with the role it needs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import requests
from rich.console import Console

from serving import MODEL, Desk

_LOOPML = [str(Path(sys.executable).parent / "loopml")]
ADMIN, VIEWER = "demo-admin", "demo-viewer"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _token(desk: Desk, user: str, role: str) -> str:
    if user not in {u["name"] for u in desk.json("users", "list")}:
        desk.run("users", "create", user, "--role", role)
    made = desk.json("tokens", "create", user, "--name", "demo", "--expires-in", "1d")
    return str(made["token"])


def team(console: Console, work: Path) -> int:
    """The section (see the module docstring)."""
    desk = Desk(console)
    admin = _token(desk, ADMIN, "admin")
    viewer = _token(desk, VIEWER, "viewer")
    console.print("tokens made for demo-admin and demo-viewer (shown once, never stored)")
    port = _free_port()
    console.print(f"\n$ loopml server --port {port} --auth tokens &", markup=False)
    server = subprocess.Popen(
        [*_LOOPML, "server", "--port", str(port), "--auth", "tokens"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url)
        return _tour(console, url, admin, viewer, work)
    finally:
        server.terminate()
        server.wait(30)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/v1/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"loopml server at {url} did not answer in 60 s")


def _tour(console: Console, url: str, admin: str, viewer: str, work: Path) -> int:
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {admin}"
        me = _get(http, f"{url}/api/v1/whoami")
        console.print(f"GET /api/v1/whoami -> {me['user']} ({me['grants']['*']})", markup=False)
        model = _get(http, f"{url}/api/v1/models/{MODEL}")
        console.print(f"GET /api/v1/models/{MODEL} -> aliases {model.get('aliases')}", markup=False)

        console.print(f"\n$ LOOPML_TRACKING_URI={url} python train_remote.py", markup=False)
        run_id = _remote_run(url, admin, work)
        run = _get(http, f"{url}/api/v1/runs/{run_id}")
        history = _get(
            http,
            f"{url}/api/v1/runs/{run_id}/metrics/history",
            params={"key": "loss", "max_points": 50},
        )
        console.print(
            f"the server has run {run['name']} ({run['status']}): loss {run['metrics']['loss']}, "
            f"{len(history['metrics'])} of 500 points drawn for a chart",
            markup=False,
        )
        for page in ("/", f"/runs/{run_id}", f"/models/{MODEL}"):
            answer = http.get(f"{url}{page}", cookies={"loopml_token": admin}, timeout=30)
            console.print(
                f"web UI {page} -> {answer.status_code}, {len(answer.text):,} bytes", markup=False
            )
            if answer.status_code != 200:
                return 1
        versions = _get(http, f"{url}/api/v1/models/{MODEL}/versions")
        latest = max(v["version"] for v in versions["versions"])
    refused = requests.post(
        f"{url}/api/v1/models/{MODEL}/versions/{latest}/approve",
        headers={"Authorization": f"Bearer {viewer}"},
        json={"comment": "looks fine"},
        timeout=30,
    )
    error = refused.json()["error"]
    console.print(
        f"a viewer approving version {latest} -> {refused.status_code}: {error['message']}",
        markup=False,
    )
    console.print(
        f"\nthe UI is at {url} while the server runs (`loopml server`; sign in with "
        "a token from `loopml tokens create USER`)",
        markup=False,
    )
    return 0 if refused.status_code == 403 else 1


def _get(http: requests.Session, url: str, **options: Any) -> Any:
    answer = http.get(url, timeout=30, **options)
    answer.raise_for_status()
    return answer.json()


def _remote_run(url: str, token: str, work: Path) -> str:
    script = work / "train_remote.py"
    script.write_text(
        textwrap.dedent(
            """
        import loopml

        with loopml.start_run("churn-remote", name="from-a-laptop") as run:
            run.log_params({"model": "logistic", "C": 1.0})
            for step in range(500):
                run.log_metric("loss", 1 / (step + 1), step=step)
        print(run.id)
        """
        )
    )
    env = {
        **os.environ,
        "LOOPML_TRACKING_URI": url,
        "LOOPML_TRACKING_TOKEN": token,
        "LOOPML_HOME": str(work / "laptop"),
    }
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout.strip().splitlines()[-1]
