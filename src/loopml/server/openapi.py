"""The OpenAPI 3.1 document of a server, built from its route table.

Example:
    >>> doc = openapi_document([])
    >>> doc["openapi"], doc["info"]["title"]
    ('3.1.0', 'loopml')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from loopml.server.api import Operation

__all__ = ["openapi_document"]

_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")
_ERROR = {"$ref": "#/components/schemas/Error"}


def openapi_document(operations: Iterable[Operation], *, version: str = "1") -> dict[str, Any]:
    """Every operation as an OpenAPI path item, with loopml's error shape."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = _PATH_PARAM.sub(r"{\1}", op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, path)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "loopml",
            "version": version,
            "description": "The loopml server: every component of the loop over REST. "
            "Send 'Authorization: Bearer <token>' unless the server runs token-free.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "object"},
                            },
                            "required": ["code", "message"],
                        }
                    },
                }
            },
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}],
    }


def _operation(op: Operation, path: str) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(op.path)
    ]
    for p in op.params:
        schema: dict[str, Any] = {"type": p.type}
        if p.type == "array":
            schema["items"] = {"type": "string"}
        params.append(
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "schema": schema,
                "description": p.description,
            }
        )
    found: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}_{_slug(path)}",
        "tags": [op.tag] if op.tag else [],
        "parameters": params,
        "responses": {
            str(op.status): {"description": "OK"},
            "4XX": {
                "description": "bad request",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
        "x-loopml-role": None if op.public else op.role,
    }
    if op.public:
        found["security"] = []
    if op.body or op.raw_body:
        media = "application/octet-stream" if op.raw_body else "application/json"
        found["requestBody"] = {"content": {media: {"schema": {"type": "object"}}}}
    return found


def _slug(path: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_")
