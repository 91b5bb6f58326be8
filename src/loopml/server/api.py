"""The route table every part of the server declares its operations in.

An :class:`Api` collects operations: a method, a path, the role the caller needs, a
summary, the query parameters it reads and a handler. The handler is a plain function of
one :class:`Call` (run on a worker thread, acting as the caller, so the audit log names
them) that returns something JSON can hold: dicts, lists, dataclasses, numbers. The same
table builds the Starlette routes and the OpenAPI document, so the two never disagree.

Example:
    >>> api = Api("/api/v1", tag="experiments")
    >>> @api.get("/experiments/{name}", summary="One experiment")
    ... def get_experiment(call: Call) -> object:
    ...     return call.ctx.tracking.get_experiment(call.path["name"])
    >>> [op.path for op in api.operations]
    ['/api/v1/experiments/{name}']
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from loopml.errors import InvalidInputError
from loopml.paging import MAX_PAGE_SIZE
from loopml.server.models import WORKSPACE, Principal

if TYPE_CHECKING:
    from loopml.server._context import ServerContext

__all__ = ["Api", "Call", "Operation", "Param", "Reply"]

Handler = Callable[["Call"], Any]


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter an operation reads (for the OpenAPI document and ``--help``)."""

    name: str
    type: str = "string"  # string | integer | number | boolean | array
    description: str = ""
    required: bool = False


PAGING = (
    Param("limit", "integer", f"page size, 1 to {MAX_PAGE_SIZE} (default 100)"),
    Param("page_token", "string", "the next_page_token of the previous page"),
)


@dataclass(frozen=True, slots=True)
class Operation:
    """One route: ``method path``, who may call it and what it does."""

    method: str
    path: str
    handler: Handler
    role: str
    summary: str
    tag: str
    params: tuple[Param, ...] = ()
    body: bool = False  # reads a JSON object body
    status: int = 200
    public: bool = False  # answered without a token (health, the login page)
    # The handler is a coroutine function reading ``call.stream`` itself (large uploads);
    # it runs on the event loop, so it hands blocking work to a thread.
    raw_body: bool = False
    # The handler only appends to the metric journal (a local file) unless the store is
    # shared by several workers: it runs on the event loop, saving the hop to a worker
    # thread, which is most of the cost of a one-point request.
    inline: bool = False
    # Where ``role`` is checked, found from the request (a write to a run: its experiment,
    # ``experiment:NAME``); ``None``: on the workspace. A grant on the workspace counts too.
    scope: Callable[[Call], str] | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer when it is not JSON with status 200: bytes, a status, headers."""

    body: bytes | Any = b""
    status: int = 200
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


class Api:
    """A set of operations under one path prefix, all tagged ``tag`` in the OpenAPI document."""

    def __init__(self, prefix: str = "", *, tag: str = "") -> None:
        self.prefix = prefix.rstrip("/")
        self.tag = tag
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        role: str = "viewer",
        params: tuple[Param, ...] = (),
        body: bool = False,
        status: int = 200,
        public: bool = False,
        raw_body: bool = False,
        inline: bool = False,
        scope: Callable[[Call], str] | None = None,
        tag: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare ``handler`` as ``method prefix+path``."""

        def declare(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method.upper(),
                    self.prefix + path,
                    handler,
                    role,
                    summary,
                    tag or self.tag,
                    params,
                    body,
                    status,
                    public,
                    raw_body,
                    inline,
                    scope,
                )
            )
            return handler

        return declare

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        options.setdefault("role", "editor")
        return self.route("POST", path, body=options.pop("body", True), **options)

    def put(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        options.setdefault("role", "editor")
        return self.route("PUT", path, body=options.pop("body", True), **options)

    def patch(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        options.setdefault("role", "editor")
        return self.route("PATCH", path, body=options.pop("body", True), **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        options.setdefault("role", "editor")
        return self.route("DELETE", path, **options)

    def include(self, other: Api) -> None:
        """Add every operation of ``other`` (its paths already carry their prefix)."""
        self.operations.extend(other.operations)


@dataclass
class Call:
    """One request as a handler sees it.

    ``path`` holds the path parameters, ``query`` the query string (a name may repeat),
    ``body`` the raw request body (already size-checked).
    """

    ctx: ServerContext
    principal: Principal
    path: dict[str, str]
    query: Mapping[str, list[str]]
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None  # set instead of body for raw_body operations
    _json: Any = dataclasses.field(default=None, repr=False)

    # -- the body ----------------------------------------------------------------------

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; InvalidInputError for anything else."""
        if self._json is None:
            if not self.body.strip():
                self._json = {}
            else:
                try:
                    self._json = orjson.loads(self.body)
                except orjson.JSONDecodeError as err:
                    raise InvalidInputError(
                        f"the request body is not valid JSON ({err}); send a JSON object"
                    ) from err
            if not isinstance(self._json, dict):
                raise InvalidInputError(
                    f"the request body must be a JSON object, got {type(self._json).__name__}"
                )
        return self._json

    def field(self, name: str, kind: type | tuple[type, ...] = str, *, default: Any = ...) -> Any:
        """One field of the JSON body, checked to be ``kind``; missing -> ``default`` or 400."""
        body = self.json()
        if name not in body or body[name] is None:
            if default is ...:
                raise InvalidInputError(
                    f"the request body needs the field '{name}'", details={"field": name}
                )
            return default
        value = body[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            value = ...  # JSON true is not a number here
        if value is ... or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise InvalidInputError(
                f"field '{name}' must be {names}, got {body[name]!r}",
                details={"field": name},
            )
        return value

    # -- the query string --------------------------------------------------------------

    def text(self, name: str, default: str | None = None) -> str | None:
        """The last value of query parameter ``name``."""
        values = self.query.get(name)
        return values[-1] if values else default

    def texts(self, name: str) -> list[str]:
        """Every value of a repeated query parameter (``?tag=a&tag=b``, or ``?tag=a,b``)."""
        return [part for value in self.query.get(name, []) for part in value.split(",") if part]

    def integer(
        self,
        name: str,
        default: int | None = None,
        *,
        low: int | None = None,
        high: int | None = None,
    ) -> int | None:
        """Query parameter ``name`` as an integer in ``low..high``; 400 otherwise."""
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if (
            value is None
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            span = f" from {low}" if low is not None else ""
            span += f" to {high}" if high is not None else ""
            raise InvalidInputError(
                f"query parameter '{name}' must be an integer{span}, got {raw!r}",
                details={"parameter": name},
            )
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """Query parameter ``name`` as a boolean (``true``/``false``/``1``/``0``)."""
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes"):
            return True
        if raw.lower() in ("0", "false", "no"):
            return False
        raise InvalidInputError(f"query parameter '{name}' must be true or false, got {raw!r}")

    def limit(self, default: int = 100) -> int:
        """The page size asked for (``limit``)."""
        return self.integer("limit", default, low=1, high=MAX_PAGE_SIZE) or default

    # -- the caller --------------------------------------------------------------------

    def require(self, role: str, scope: str = WORKSPACE, *, action: str = "do this") -> None:
        """Forbidden unless the caller holds ``role`` on ``scope`` (for model-scoped checks)."""
        self.principal.require(role, scope, action=action)
