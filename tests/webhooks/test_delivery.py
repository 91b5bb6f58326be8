"""One delivery against a real HTTP server on 127.0.0.1: no redirect is followed."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from loopml.registry.client import RegistryClient
from loopml.webhooks import post
from receiver import WAIT, Receiver


def test_a_redirect_is_a_failure_and_is_not_followed(
    registry: RegistryClient, receiver: Receiver
) -> None:
    """A 3xx answer never sends the event on to an address nobody configured."""

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(307)
            self.send_header("Location", receiver.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        registry.create_model("churn")
        [event] = registry.list_events()
        host, port = server.server_address[:2]
        problem = post(f"http://{host!s}:{port}/hooks", event, "s3cret", timeout=WAIT)
        assert problem is not None
        assert problem.startswith("HTTP 307")
        assert receiver.requests == []
    finally:
        server.shutdown()
        server.server_close()
