"""The registry client a ``loopml models …`` command works with.

After a command that changed the registry, pending webhook deliveries are flushed
(briefly) before the process exits, so a hook hears about a change made from the CLI.
A hook that does not answer in time keeps its cursor: the next loopml process (or the
server) delivers what it missed, in order.

Example:
    >>> with open_registry(ctx, writes=True) as registry:  # doctest: +SKIP
    ...     registry.set_alias("churn", "staging", 4)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from loopml.cli._state import get_state

if TYPE_CHECKING:
    from loopml.registry.client import RegistryClient

__all__ = ["WEBHOOK_FLUSH_SECONDS", "open_registry"]

# How long a command that changed the registry waits at exit for its webhook deliveries.
WEBHOOK_FLUSH_SECONDS = 3.0


@contextlib.contextmanager
def open_registry(
    ctx: typer.Context, *, writes: bool = False, remote: bool = True
) -> Iterator[RegistryClient]:
    """A registry client on the configured store, or on the server ``LOOPML_TRACKING_URI``
    names unless ``remote`` is false; with ``writes``, webhooks are flushed."""
    client = get_state(ctx).registry_client(remote=remote)
    yield client
    if writes and not client.deliver_pending(timeout=WEBHOOK_FLUSH_SECONDS):
        typer.echo(
            typer.style(
                "note: a webhook did not take this change in time; it keeps its place and "
                "gets it later (see `loopml models webhooks list`)",
                dim=True,
            ),
            err=True,
        )
