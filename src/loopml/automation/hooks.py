"""The agent's webhook endpoint: ``POST /hooks/pipelines/NAME`` with the pipeline's token.

A CI job, a data platform or a script calls a registered pipeline's webhook (registered
with ``on_webhook()``, whose token is shown once at registration); the call is stored as
a request the agent turns into a plan on its next pass, exactly like ``loopml trigger``.
``loopml agent --listen 127.0.0.1:8787`` serves it beside the reconciliation loop.

The token goes in ``Authorization: Bearer TOKEN`` (or ``X-Loopml-Token``); a JSON body
may give a ``reason`` (at most 64 KiB). Answers are JSON: ``202`` with the request's id;
``401`` for a wrong token, an unknown pipeline or one without a webhook (one answer for
all three); ``404`` for another path; ``405`` for another method; ``400`` and ``413``
for a bad or too large body. The standard library's threading HTTP server is enough for
a trigger endpoint: nothing here is on a request's hot path.

Example:
    >>> listener = WebhookListener(settings, "127.0.0.1", 0).start()  # doctest: +SKIP
    >>> requests.post(f"{listener.url}/hooks/pipelines/retrain",
    ...               headers={"Authorization": f"Bearer {token}"}).json()  # doctest: +SKIP
    {'request': 3, 'pipeline': 'retrain'}
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from loopml.config import Settings
from loopml.errors import LoopmlError, UnauthorizedError

__all__ = ["MAX_BODY", "WebhookListener"]

MAX_BODY = 64 * 1024
_PREFIX = "/hooks/pipelines/"


class WebhookListener:
    """Serves the webhook endpoint in a background thread (see the module docstring)."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 8787) -> None:
        from loopml.automation.client import AutomationClient

        client = AutomationClient(settings)
        self._server = ThreadingHTTPServer((host, port), _handler(client))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="loopml-hooks", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _handler(client: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "loopml-hooks"
        error_content_type = "application/json"

        def do_POST(self) -> None:
            if not self.path.startswith(_PREFIX) or "/" in self.path[len(_PREFIX) :].strip("/"):
                self._answer(404, _error("not_found", f"no endpoint {self.path}; POST "
                                         f"{_PREFIX}NAME"))  # fmt: skip
                return
            name = unquote(self.path[len(_PREFIX) :].strip("/"))
            reason = self._reason()
            if reason is False:
                return
            token = self._token()
            try:
                request = client.call_webhook(name, token, reason=reason or "webhook call")
            except UnauthorizedError as err:
                self._answer(401, _error(err.code, err.message))
                return
            except LoopmlError as err:
                self._answer(err.http_status, _error(err.code, err.message))
                return
            self._answer(202, {"request": request, "pipeline": name})

        def do_GET(self) -> None:
            self._answer(405, _error("method_not_allowed", "call a webhook with POST"))

        do_PUT = do_DELETE = do_PATCH = do_GET

        def _token(self) -> str:
            bearer = self.headers.get("Authorization", "")
            if bearer.lower().startswith("bearer "):
                return bearer[7:].strip()
            return self.headers.get("X-Loopml-Token", "").strip()

        def _reason(self) -> str | bool | None:
            """The body's ``reason`` (``None`` without one); ``False`` when answered."""
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self._answer(413, _error("too_large", f"a body of at most {MAX_BODY} bytes"))
                return False
            if length == 0:
                return None
            try:
                body = json.loads(self.rfile.read(length))
            except (ValueError, UnicodeDecodeError):
                self._answer(400, _error("invalid_input", "the body is not JSON"))
                return False
            reason = body.get("reason") if isinstance(body, dict) else None
            return reason if isinstance(reason, str) else None

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # no access log on stderr: the request is in the store and the audit log

    return Handler


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
