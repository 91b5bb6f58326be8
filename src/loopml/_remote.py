"""A small HTTP/JSON client for the loopml server (standard library only).

Shared by the remote clients of tracking and the registry (``LOOPML_TRACKING_URI=http://…``).
One keep-alive connection per thread; the server's error bodies become loopml's own
exceptions (``{"error": {"code": "not_found", …}}`` -> :class:`NotFoundError`), and a
server that cannot be reached is :class:`ServerUnreachable`, which callers may retry.

Example:
    >>> type(error_from(404, b'{"error": {"code": "not_found", "message": "no run x"}}'))
    <class 'loopml.errors.NotFoundError'>
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from loopml.errors import InvalidInputError, LoopmlError, StoreError

__all__ = [
    "TOKEN_ENV",
    "JsonHttp",
    "ServerUnreachable",
    "error_from",
    "is_remote",
    "not_on_server",
    "unavailable_call",
]

USER_AGENT = "loopml-client"
TOKEN_ENV = "LOOPML_TRACKING_TOKEN"


def is_remote(uri: str | None) -> bool:
    """Whether ``uri`` names a loopml server (``http://`` or ``https://``)."""
    return bool(uri) and str(uri).startswith(("http://", "https://"))


class ServerUnreachable(StoreError):
    """The loopml server did not answer (refused, reset, timed out, or a 5xx)."""

    code = "server_unreachable"


def not_on_server(call: str, url: str) -> NoReturn:
    """Refuse ``call``: the REST API of the server at ``url`` has no route for it yet."""
    raise InvalidInputError(
        f"{call} is not available against a loopml server yet (LOOPML_TRACKING_URI={url}); "
        "run it on the server's machine, against its store, with LOOPML_TRACKING_URI unset"
    )


def unavailable_call(remote: object, face: type, name: str) -> Callable[..., NoReturn]:
    """For a remote client's ``__getattr__``: a public method of ``face`` (the embedded
    client) the remote one lacks becomes a call that refuses clearly; anything else is the
    usual :class:`AttributeError`."""
    if name.startswith("_") or not callable(getattr(face, name, None)):
        raise AttributeError(f"{type(remote).__name__!r} object has no attribute {name!r}")

    url = str(getattr(remote, "url", "a server URL"))

    def refuse(*_: Any, **__: Any) -> NoReturn:
        not_on_server(name, url)

    return refuse


_classes: dict[str, type[LoopmlError]] = {}


def _error_class(code: str) -> type[LoopmlError]:
    """The class of an error code: the map is built once, and again only for a code it
    lacks (a class defined in a module imported since; else the code maps to the root)."""
    global _classes
    if code not in _classes:
        _classes = _error_classes()
        _classes.setdefault(code, LoopmlError)
    return _classes.get(code, LoopmlError)


def _error_classes() -> dict[str, type[LoopmlError]]:
    found: dict[str, type[LoopmlError]] = {}
    stack: list[type[LoopmlError]] = [LoopmlError]
    while stack:
        cls = stack.pop()
        found.setdefault(cls.code, cls)
        stack.extend(cls.__subclasses__())
    return found


def error_from(status: int, body: bytes) -> LoopmlError:
    """The loopml exception a server's error reply stands for."""
    try:
        error = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        return ServerUnreachable(f"the server answered {status} without a loopml error body")
    cls = _error_class(code)
    err = cls.__new__(cls)  # not LoopmlError.__new__: some also derive OSError (PermissionError)
    LoopmlError.__init__(err, message, details=details if isinstance(details, dict) else {})
    for name in ("kind", "key"):
        if name in err.details and not hasattr(err, name):
            setattr(err, name, err.details[name])
    return err


class JsonHttp:
    """JSON requests to one server: ``http(s)://host:port[/prefix]``, with a bearer token."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidInputError(
                f"tracking URI {url!r} is not a server URL; use http://HOST:PORT"
            )
        self.url = url.rstrip("/")
        self._scheme, self._host = parsed.scheme, parsed.hostname
        self._port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self._prefix = parsed.path.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._all_lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        upload: Path | None = None,
        decode: bool = True,
    ) -> Any:
        """Send one request; the reply's JSON (its bytes when not ``decode``), or the loopml
        error it carries. ``upload`` streams a file as the body (never read whole)."""
        target = self._prefix + path
        if query:
            target += "?" + urllib.parse.urlencode(
                [
                    (k, v)
                    for k, v in (query.items() if isinstance(query, Mapping) else query)
                    if v is not None
                ]
            )
        payload = raw if raw is not None else None if body is None else json.dumps(body).encode()
        sent = {**self.headers(), **(headers or {})}
        if payload is not None and raw is None:
            sent["content-type"] = "application/json"
        if upload is not None:
            sent.setdefault("content-type", "application/octet-stream")
            sent["content-length"] = str(upload.stat().st_size)
            with upload.open("rb") as stream:
                status, data = self._send(method, target, stream, sent)
        else:
            status, data = self._send(method, target, payload, sent)
        if status >= 500:
            raise ServerUnreachable(
                f"the loopml server at {self.url} failed ({status}) answering {method} {path}: "
                + error_from(status, data).message
            )
        if status >= 400:
            raise error_from(status, data)
        if not decode:
            return data
        return json.loads(data) if data else None

    def headers(self) -> dict[str, str]:
        """The headers every request carries: who the client is, and its token."""
        found = {"user-agent": USER_AGENT, "accept": "application/json"}
        if self._token:
            found["authorization"] = f"Bearer {self._token}"
        return found

    def _send(
        self,
        method: str,
        target: str,
        payload: bytes | BinaryIO | None,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
            conn = self._connection()
            if not isinstance(payload, bytes | None):
                payload.seek(0)  # a file body is sent again from its start
            try:
                conn.request(method, target, body=payload, headers=headers)
                reply = conn.getresponse()
                return reply.status, reply.read()
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                self._local.conn = None
                with self._all_lock:
                    if conn in self._all:
                        self._all.remove(conn)
                if attempt == 2 or not isinstance(
                    err, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                ):
                    raise ServerUnreachable(
                        f"cannot reach the loopml server at {self.url} ({err}); is "
                        "`loopml server` running there?"
                    ) from err
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
