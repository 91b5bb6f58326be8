"""What the global options (``--env``, ``--home``, ``--db-url``, ``--artifacts``) carry to
every command.

The state only remembers the options; settings, the database and the tracking or
registry client are made when a command asks for them, so ``loopml --help`` stays fast.

With ``LOOPML_TRACKING_URI=http://…`` the tracking and registry clients are the server's
(``loopml experiments``, ``runs`` and ``models`` work there, with the token in
``LOOPML_TRACKING_TOKEN``); every other command refuses, rather than read a local store.

Example:
    >>> state = CliState(home=None, db_url="sqlite:///:memory:", artifacts_url=None)
    >>> state.settings().db_url
    'sqlite:///:memory:'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.registry.client import RegistryClient
    from loopml.tracking import TrackingClient

__all__ = ["CliState", "get_state"]


@dataclass(frozen=True)
class CliState:
    """The global options as given; ``None`` means "let settings resolve it".

    Attributes:
        home: ``--home``, where ``.loopml`` data lives.
        db_url: ``--db-url``, the metadata database.
        artifacts_url: ``--artifacts``, the artifact store.
        env: ``--env``, the ``[env.NAME]`` profile of ``loopml.toml`` (else ``$LOOPML_ENV``).
    """

    home: Path | None = None
    db_url: str | None = None
    artifacts_url: str | None = None
    env: str | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list, compare=False, repr=False)

    def settings(
        self, *, home: Path | None = None, env: str | None = None, remote_ok: bool = False
    ) -> Settings:
        """Settings with the options applied over env, ``loopml.toml`` and defaults.

        Args:
            home: a fallback home used only when ``--home`` was not given.
            env: a profile to use instead of ``--env`` (``models copy --from/--to``).
            remote_ok: the caller handles a tracking server itself (``loopml server``,
                ``users`` and ``tokens`` work on the local store; the tracking and registry
                clients talk to the server).

        Raises:
            InvalidInputError: ``LOOPML_TRACKING_URI`` names a server and this command
                has no remote mode: reading the local store instead would mislead.
        """
        from loopml.config import Settings
        from loopml.errors import InvalidInputError

        settings = Settings.load(
            env=env or self.env,
            home=self.home or home,
            db_url=self.db_url,
            artifacts_url=self.artifacts_url,
        )
        if settings.tracking_uri and not remote_ok:
            raise InvalidInputError(
                f"LOOPML_TRACKING_URI is set ({settings.tracking_uri}): the SDK logs runs to "
                "that server, and most `loopml experiments`, `runs` and `models` commands "
                "work there, but this one works on a local store only; unset "
                "LOOPML_TRACKING_URI for it, or use the server's web UI or REST API "
                f"({settings.tracking_uri}/api/openapi.json)"
            )
        return settings

    def tracking_client(self, *, remote: bool = False) -> TrackingClient:
        """A tracking client on the configured store (marks runs of dead processes killed).

        Args:
            remote: the command works against a server too (``experiments``, ``runs``):
                with ``LOOPML_TRACKING_URI=http://…`` the client is the server's. Without
                it, such a URI is refused (see :meth:`settings`).
        """
        from loopml._remote import is_remote
        from loopml.tracking import TrackingClient

        settings = self.settings(remote_ok=remote)
        if not is_remote(settings.tracking_uri):
            return TrackingClient(self.settings(), capture_env=False)
        from loopml.tracking.remote import RemoteTrackingClient

        server = RemoteTrackingClient(settings)
        self._closers.append(server.close)
        # Duck-typed: it answers every call the experiments and runs commands make.
        return server  # type: ignore[return-value]

    def registry_client(self, *, env: str | None = None, remote: bool = False) -> RegistryClient:
        """A model registry client on the configured store (it checks policy gates).

        Args:
            env: a profile to use instead of ``--env``.
            remote: the command works against a server too (``models …``): with
                ``LOOPML_TRACKING_URI=http://…`` the client is the server's.
        """
        from loopml._remote import is_remote
        from loopml._sdk.models import RegistryClient

        settings = self.settings(env=env, remote_ok=remote)
        if not is_remote(settings.tracking_uri):
            return RegistryClient(self.settings(env=env))  # refuses a URI that is no server
        from loopml.registry.remote import RemoteRegistryClient

        server = RemoteRegistryClient(settings)
        self._closers.append(server.close)
        # Duck-typed: it answers the calls the REST API covers and refuses the rest clearly.
        return server  # type: ignore[return-value]

    def close(self) -> None:
        """Close the server clients this command made (the root command's context calls
        this as it ends; a client never closed is closed at exit)."""
        while self._closers:
            self._closers.pop()()


def get_state(ctx: typer.Context) -> CliState:
    """The state the root callback stored, or defaults when a command runs on its own."""
    state = ctx.find_object(CliState)
    return state if state is not None else CliState()
