"""What the global options (``--env``, ``--home``, ``--db-url``, ``--artifacts``) carry to
every command.

The state only remembers the options; settings, the database and the tracking or
registry client are made when a command asks for them, so ``loopml --help`` stays fast.

Example:
    >>> state = CliState(home=None, db_url="sqlite:///:memory:", artifacts_url=None)
    >>> state.settings().db_url
    'sqlite:///:memory:'
"""

from __future__ import annotations

from dataclasses import dataclass
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

    def settings(
        self, *, home: Path | None = None, env: str | None = None, remote_ok: bool = False
    ) -> Settings:
        """Settings with the options applied over env, ``loopml.toml`` and defaults.

        Args:
            home: a fallback home used only when ``--home`` was not given.
            env: a profile to use instead of ``--env`` (``models copy --from/--to``).
            remote_ok: the command works on the local store even when a tracking server
                is set (``loopml server``, ``users``, ``tokens``).

        Raises:
            InvalidInputError: ``LOOPML_TRACKING_URI`` names a server: commands do not
                talk to servers yet, and reading the local store instead would mislead.
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
                "that server, but `loopml` commands work on a local store only; unset "
                "LOOPML_TRACKING_URI for this command, or use the server's web UI or REST API "
                f"({settings.tracking_uri}/api/openapi.json)"
            )
        return settings

    def tracking_client(self) -> TrackingClient:
        """A tracking client on the configured store (marks runs of dead processes killed)."""
        from loopml.tracking import TrackingClient

        return TrackingClient(self.settings(), capture_env=False)

    def registry_client(self, *, env: str | None = None) -> RegistryClient:
        """A model registry client on the configured store (it checks policy gates)."""
        from loopml._sdk.models import RegistryClient

        return RegistryClient(self.settings(env=env))


def get_state(ctx: typer.Context) -> CliState:
    """The state the root callback stored, or defaults when a command runs on its own."""
    state = ctx.find_object(CliState)
    return state if state is not None else CliState()
