"""Health, the caller's identity, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from loopml.server.api import Api, Call

__all__ = ["api"]

api = Api("/api/v1", tag="system")


@api.get("/health", summary="Whether the server answers and reaches its store", public=True)
def health(call: Call) -> dict[str, Any]:
    with call.ctx.store.read() as conn:
        conn.exec_driver_sql("SELECT 1")
    return {"status": "ok", "auth": call.ctx.config.auth}


@api.get("/whoami", summary="The caller: user, roles by scope, and whether a token was used")
def whoami(call: Call) -> dict[str, Any]:
    return call.principal.to_dict()
