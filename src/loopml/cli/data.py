"""``loopml data …``: dataset versions and data validation."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Dataset versions (log, list, show, get, diff) and data validation.",
    no_args_is_help=True,
)
