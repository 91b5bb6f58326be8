"""The server's app factory: every component's REST operations, the OpenAPI document,
and the error shape, over one store.

Example:
    >>> app = create_app(Settings.load(), ServerConfig(auth="tokens"))  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=5000)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from loopml.config import Settings
from loopml.errors import InvalidInputError, MethodNotAllowedError, NotFoundError
from loopml.server import mlflow, routes, ui
from loopml.server._context import DEFAULT_MAX_BODY, ServerConfig, ServerContext
from loopml.server._http import dump_json, render_loopml_error, routes_of
from loopml.server.api import Operation
from loopml.server.openapi import openapi_document

__all__ = [
    "AUTH_ENV",
    "MAX_BODY_ENV",
    "WORKERS_ENV",
    "app_from_environment",
    "create_app",
    "operations",
]

AUTH_ENV = "LOOPML_SERVER_AUTH"
MAX_BODY_ENV = "LOOPML_SERVER_MAX_BODY"
WORKERS_ENV = "LOOPML_SERVER_WORKERS"


def operations() -> list[Operation]:
    """Every operation of the loopml REST API (``/api/v1``)."""
    return [op for api in routes.v1() for op in api.operations]


def create_app(settings: Settings, config: ServerConfig | None = None) -> Starlette:
    """The server over ``settings``' store and artifacts."""
    ctx = ServerContext(settings, config or ServerConfig())
    v1 = operations()
    document = openapi_document(v1)
    served: list[BaseRoute] = [
        *routes_of(v1, ctx, render_loopml_error),
        *routes_of(mlflow.operations(), ctx, mlflow.render_mlflow_error),
        Route("/api/openapi.json", _openapi(document), methods=["GET"]),
        Route("/health", _health, methods=["GET"]),
        *routes_of(ui.api.operations, ctx, render_loopml_error),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(ctx.idempotency.expire)  # keys older than a day
        yield
        ctx.close()

    app = Starlette(
        routes=served,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},  # type: ignore[dict-item]
    )
    app.state.ctx = ctx
    return app


def app_from_environment() -> Starlette:
    """The app a worker process builds (``uvicorn --factory``): settings from the environment."""
    auth = os.environ.get(AUTH_ENV, "none")
    max_body = int(os.environ.get(MAX_BODY_ENV) or DEFAULT_MAX_BODY)
    workers = int(os.environ.get(WORKERS_ENV) or 1)
    config = ServerConfig(auth=auth, max_body_bytes=max_body, workers=workers)
    return create_app(Settings.load(), config)


def _openapi(document: dict[str, Any]) -> Any:
    body = dump_json(document)

    async def endpoint(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return endpoint


async def _health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's own 404 and 405, in loopml's error shape."""
    if exc.status_code == 404:
        err: Any = NotFoundError(
            "route",
            f"{request.method} {request.url.path}",
            hint="the API is listed at /api/openapi.json",
        )
    elif exc.status_code == 405:
        err = MethodNotAllowedError(
            f"{request.url.path} does not answer {request.method}; "
            "see /api/openapi.json for its methods"
        )
    else:
        err = InvalidInputError(str(exc.detail))
    if request.url.path.startswith(("/api/2.0/", "/ajax-api/2.0/")):
        # MLflow's clients read MLflow's shape; ENDPOINT_NOT_FOUND is what its server says.
        code = "ENDPOINT_NOT_FOUND" if exc.status_code == 404 else "BAD_REQUEST"
        message = f"{err.message}; loopml does not serve this MLflow route (see docs/mlflow.md)"
        body = dump_json({"error_code": code, "message": message})
        return Response(body, exc.status_code, media_type="application/json")
    status, body = render_loopml_error(err)
    return Response(
        body,
        status if exc.status_code in (404, 405) else exc.status_code,
        media_type="application/json",
    )
