"""``loopml features …``: the feature store."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="The feature store: apply definitions, materialize, read features.",
    no_args_is_help=True,
)
