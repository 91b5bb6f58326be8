"""The server tests' harness: an app in-process over a private store, and its accounts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from starlette.testclient import TestClient

from loopml.config import Settings
from loopml.server import AccountService, ServerConfig, create_app
from loopml.store import open_store


@dataclass
class Server:
    """A loopml server app in-process, and the accounts of its store."""

    settings: Settings
    client: TestClient
    accounts: AccountService
    tokens: dict[str, str] = field(default_factory=dict)

    def user(self, name: str, role: str | None) -> dict[str, str]:
        """Headers carrying a new token of a new user ``name`` with ``role``."""
        self.accounts.create_user(name, role=role)
        _, secret = self.accounts.create_token(name, "test")
        self.tokens[name] = secret
        return {"Authorization": f"Bearer {secret}"}


def make_server(settings: Settings, config: ServerConfig) -> Iterator[Server]:
    app = create_app(settings, config)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Server(settings, client, AccountService(open_store(settings.db_url)))
