"""Turning operations into Starlette routes: the caller, the body, the reply, the errors."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import secrets
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loopml.errors import LoopmlError, PayloadTooLargeError, UnauthorizedError
from loopml.server._context import ServerContext
from loopml.server.api import Call, Operation, Reply
from loopml.server.idempotency import HEADER
from loopml.server.models import WORKSPACE, Principal
from loopml.store import audit

__all__ = [
    "ANONYMOUS",
    "ErrorRenderer",
    "dump_json",
    "principal_of",
    "read_body",
    "render_loopml_error",
    "routes_of",
]

log = logging.getLogger("loopml.server")

ErrorRenderer = Callable[[LoopmlError], tuple[int, bytes]]
ANONYMOUS = Principal("anonymous", {}, authenticated=False)
TOKEN_COOKIE = "loopml_token"
# Dataclasses pass through to _default, so one with a to_dict is shown through it (orjson
# would otherwise write its fields and skip to_dict's computed ones).
_JSON_OPTIONS = (
    orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dump_json(value: Any) -> bytes:
    """``value`` as JSON: dataclasses, numpy values and objects with ``to_dict`` included."""
    return orjson.dumps(value, default=_default, option=_JSON_OPTIONS)


def _default(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def render_loopml_error(err: LoopmlError) -> tuple[int, bytes]:
    """loopml's error shape: ``{"error": {"code", "message", "details"}}``."""
    return err.http_status, dump_json(err.to_dict())


def principal_of(request: Request, ctx: ServerContext, *, public: bool = False) -> Principal:
    """Who sent ``request``.

    Token-free servers trust the ``loopml-user`` header (or act as the server's user) with
    every right. Otherwise the token comes from ``Authorization: Bearer``, HTTP Basic (the
    password is the token, as MLflow clients send it) or the UI's cookie.

    Raises:
        UnauthorizedError: no valid token, unless ``public`` (then the anonymous caller).
    """
    if ctx.config.auth == "none":
        user = request.headers.get("loopml-user") or ctx.config.user or audit.current_actor()
        return Principal(user[:250], {WORKSPACE: "admin"}, authenticated=False)
    token = _token_of(request)
    if token is None:
        if public:
            return ANONYMOUS
        raise UnauthorizedError(
            "this loopml server needs an API token: send 'Authorization: Bearer <token>' "
            "(LOOPML_TRACKING_TOKEN or MLFLOW_TRACKING_TOKEN for clients); an admin makes "
            "one with `loopml tokens create USER`"
        )
    try:
        return ctx.accounts.authenticate(token)
    except UnauthorizedError:
        if public:
            return ANONYMOUS
        raise


def _token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return request.cookies.get(TOKEN_COOKIE)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 once it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the request body has {size:,} bytes or more, over this server's limit of "
        f"{limit:,}; send less per request (batches), or start the server with a larger "
        "--max-body-mb",
        details={"limit": limit},
    )


def routes_of(
    operations: list[Operation], ctx: ServerContext, render_error: ErrorRenderer
) -> list[Route]:
    """Starlette routes for ``operations``; several methods on one path share a route."""
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = op
    return [
        Route(path, _endpoint(methods, ctx, render_error), methods=sorted(methods))
        for path, methods in by_path.items()
    ]


def _endpoint(
    methods: dict[str, Operation], ctx: ServerContext, render_error: ErrorRenderer
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        op = methods.get(request.method) or methods.get("GET")  # HEAD answers as GET
        assert op is not None
        try:
            if not op.public and ctx.config.auth != "none" and _token_of(request) is None:
                principal_of(request, ctx)  # raises the 401 before any body is read
            if op.raw_body:
                principal = await anyio.to_thread.run_sync(_authorize, op, request, ctx)
                call = Call(
                    ctx,
                    principal,
                    dict(request.path_params),
                    _query(request),
                    b"",
                    request.headers,
                    request.stream(),
                )
                if op.scope is not None:
                    await anyio.to_thread.run_sync(_check_scope, op, call)
                with audit.acting_as(principal.user):
                    result = await op.handler(call)
            else:
                body = await read_body(request, ctx.config.max_body_bytes)
                if _runs_inline(op, request, ctx):
                    result = _invoke(op, request, ctx, body, render_error)
                else:
                    result = await anyio.to_thread.run_sync(
                        _invoke, op, request, ctx, body, render_error
                    )
            return _response(result, op.status)
        except LoopmlError as err:
            status, payload = render_error(err)
            return Response(payload, status, media_type="application/json")
        except Exception:  # a bug: keep serving, say so, and log the traceback
            incident = secrets.token_hex(4)
            log.exception("loopml server: %s %s failed (incident %s)", op.method, op.path, incident)
            status, payload = render_error(_bug(incident))
            return Response(payload, status, media_type="application/json")

    return endpoint


def _runs_inline(op: Operation, request: Request, ctx: ServerContext) -> bool:
    """Whether ``op`` may run on the event loop: it only appends to the metric journal.

    Not when several workers share the store (the handler then ingests before answering),
    not with an idempotency key (kept in the store), and not with a token the server has
    not checked within the last seconds (checking one reads the store).
    """
    if not op.inline or ctx.config.shared_store or HEADER in request.headers:
        return False
    if ctx.config.auth == "none":
        return True
    token = _token_of(request)
    return token is not None and ctx.accounts.is_cached(token)


def _authorize(op: Operation, request: Request, ctx: ServerContext) -> Principal:
    """The caller, checked for the operation's role (on a worker thread: it may read the store).

    An operation with a ``scope`` is checked once its call is made (:func:`_check_scope`).
    """
    principal = principal_of(request, ctx, public=op.public)
    if not op.public and op.scope is None:
        principal.require(op.role, action=f"{op.method} {op.path}")
    return principal


def _check_scope(op: Operation, call: Call) -> None:
    """The role check of an operation whose scope comes from the request."""
    if op.scope is not None and not op.public:
        call.principal.require(op.role, op.scope(call), action=f"{op.method} {op.path}")


def _invoke(
    op: Operation, request: Request, ctx: ServerContext, body: bytes, render_error: ErrorRenderer
) -> Any:
    principal = _authorize(op, request, ctx)
    call = Call(ctx, principal, dict(request.path_params), _query(request), body, request.headers)
    _check_scope(op, call)
    key = request.headers.get(HEADER) if op.method != "GET" else None
    with audit.acting_as(principal.user):
        if key is None:
            return op.handler(call)
        return _once(op, call, key, render_error)


def _once(op: Operation, call: Call, key: str, render_error: ErrorRenderer) -> Any:
    """Run ``op`` at most once per idempotency key; a retry gets the first answer."""
    keys, user = call.ctx.idempotency, call.principal.user
    stored = keys.claim(user, key)
    if stored is not None:
        return Reply(dump_json(stored.body), stored.status, headers={"idempotent-replay": "true"})
    try:
        result = op.handler(call)
    except LoopmlError as err:
        if err.http_status >= 500:
            keys.release(user, key)
        else:  # a refusal is an answer too: the retry gets the same one
            status, payload = render_error(err)
            keys.finish(user, key, status, orjson.loads(payload))
        raise
    except BaseException:
        keys.release(user, key)
        raise
    if isinstance(result, Reply):
        keys.finish(user, key, result.status, None)
    elif isinstance(result, Response):
        keys.finish(user, key, result.status_code, None)
    else:
        keys.finish(user, key, op.status, orjson.loads(dump_json(result)))
    return result


def _query(request: Request) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        found.setdefault(key, []).append(value)
    return found


def _response(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, Reply):
        body = result.body if isinstance(result.body, bytes) else dump_json(result.body)
        return Response(body, result.status, dict(result.headers), result.content_type)
    return Response(dump_json(result), status, media_type="application/json")


class _Bug(LoopmlError):
    code = "internal"
    http_status = 500


def _bug(incident: str) -> LoopmlError:
    return _Bug(
        f"the server failed answering this request; this is a bug in loopml, please "
        f"report it with the server log's traceback for incident {incident}",
        details={"incident": incident},
    )
