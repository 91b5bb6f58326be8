"""The loopml server: a REST API over every component, users and roles, and a web UI.

``loopml server`` runs it over the same store and artifacts the SDK uses; each component's
operations live in :mod:`loopml.server.routes` and read through the components' own
clients, never new SQL. Users, API tokens and role grants are :mod:`loopml.server.accounts`.
Names are imported on first use, so the CLI's user commands do not load the web stack.

Example:
    >>> from loopml.server import ServerConfig, create_app
    >>> app = create_app(Settings.load(), ServerConfig())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml._lazy import lazy_getattr

if TYPE_CHECKING:
    from loopml.server._context import ServerConfig
    from loopml.server.accounts import AccountService
    from loopml.server.app import create_app
    from loopml.server.models import ROLES, ApiToken, Grant, Principal, User
    from loopml.server.run import serve

_EXPORTS = {
    "ServerConfig": "loopml.server._context",
    "AccountService": "loopml.server.accounts",
    "create_app": "loopml.server.app",
    "ROLES": "loopml.server.models",
    "ApiToken": "loopml.server.models",
    "Grant": "loopml.server.models",
    "Principal": "loopml.server.models",
    "User": "loopml.server.models",
    "serve": "loopml.server.run",
}

__all__ = [
    "ROLES",
    "AccountService",
    "ApiToken",
    "Grant",
    "Principal",
    "ServerConfig",
    "User",
    "create_app",
    "serve",
]

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
