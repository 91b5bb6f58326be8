"""Options several commands share, written once: paging (``--limit``, ``--page-token``),
``--reason``, ``--yes``, ``--quiet`` (print only the version a command made), and a
pipeline's ``--param`` and ``--config``.

A listing asked for ``--limit`` or ``--page-token`` prints one page: with ``--json`` an
object ``{"items": [...], "next_page_token": ...}``, else the table and the token that
asks for the next page. Without them it prints every item, as before.

Example:
    $ loopml models list --limit 20 --json
    $ loopml models list --limit 20 --page-token eyJ...
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from loopml.cli._output import cell, echo_json, show
from loopml.paging import MAX_PAGE_SIZE, Page

__all__ = [
    "ConfigFile",
    "Limit",
    "PageToken",
    "Params",
    "Quiet",
    "Reason",
    "Yes",
    "echo_listing",
    "fetch_listing",
    "show_next_page",
]

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100  # --page-token without --limit

Limit = Annotated[
    int | None,
    typer.Option(
        "--limit",
        metavar="N",
        min=1,
        max=MAX_PAGE_SIZE,
        help="Show one page of at most N (the next page's token is printed; with --json "
        "the output is {items, next_page_token}).",
    ),
]
PageToken = Annotated[
    str | None,
    typer.Option(
        "--page-token",
        metavar="TOKEN",
        help="Show the page after this one: the token the previous page printed.",
    ),
]

Reason = Annotated[
    str | None, typer.Option("--reason", metavar="TEXT", help="Why; kept in the audit log.")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Print only the version number, for scripts: VERSION=$(loopml models … -q).",
    ),
]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", metavar="KEY=VALUE", help="A parameter; JSON values parse (repeatable)."
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config", metavar="FILE", help="Parameters from a TOML/JSON/YAML file (--param wins)."
    ),
]


def fetch_listing(
    limit: int | None,
    page_token: str | None,
    one_page: Callable[[int, str | None], Page[T]],
    every: Callable[[], list[T]],
) -> tuple[list[T], Page[T] | None]:
    """The items to show: one page when ``--limit`` or ``--page-token`` asked for it (and
    that page, for its token), else every item (and ``None``)."""
    if limit is None and page_token is None:
        return every(), None
    page = one_page(limit or DEFAULT_PAGE_SIZE, page_token)
    return page.items, page


def echo_listing(items: list[Any], page: Page[Any] | None) -> None:
    """``items`` (already as JSON) on stdout: a list, or one page with its next token."""
    if page is None:
        echo_json(items)
    else:
        echo_json({"items": items, "next_page_token": page.next_page_token})


def show_next_page(page: Page[Any] | None) -> None:
    """Say how to ask for the next page, when there is one."""
    if page is not None and page.next_page_token is not None:
        show(cell(f"next page: --page-token {page.next_page_token}", "dim"))
