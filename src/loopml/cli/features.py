"""``loopml features …``: the feature store.

Example:
    $ loopml features apply features.py
    $ loopml features materialize --incremental
    $ loopml features get --entity driver_id=1001 --feature driver_stats:trips
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._options import Reason
from loopml.cli._output import JsonFlag, cell, echo_json, format_time, new_table, show
from loopml.cli._state import get_state
from loopml.clock import now
from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from loopml.features import DefinitionChange, FeatureStore, RegisteredDefinition

__all__ = ["app", "apply", "get", "list_definitions", "materialize", "show_definition"]

app = typer.Typer(
    help="The feature store: apply definitions, materialize, read features.\n\n"
    "Example: `loopml features apply features.py`",
    no_args_is_help=True,
)

OnlineStoreOption = Annotated[
    str | None,
    typer.Option(
        "--online-store",
        metavar="URL",
        help="Online store URL (default: $LOOPML_ONLINE_STORE, or SQLite in the home).",
    ),
]
_SYMBOLS = {"created": ("+", "green"), "updated": ("~", "yellow"), "unchanged": ("=", "dim")}


def _store(ctx: typer.Context, online_store: str | None = None) -> FeatureStore:
    from loopml.features import FeatureStore

    return FeatureStore(get_state(ctx).settings(), online_store=online_store)


@app.command("apply")
def apply(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="The Python file defining the features.")
    ] = Path("features.py"),
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Register the entities, feature views and on-demand views a Python file defines.

    Each definition whose spec changed gets a new version; the diff is printed
    (+ created, ~ updated, = unchanged). Relative Parquet paths are resolved against
    the file's folder.

    Examples:

        loopml features apply
        loopml features apply repo/features.py --reason "add rating" --json
    """
    from loopml.features import load_definitions

    result = _store(ctx).apply(load_definitions(path), reason=reason)
    if as_json:
        echo_json(result.to_dict())
        return
    lines: list[RenderableType] = []
    for change in result.changes:
        lines.extend(_change_lines(change))
    if not result.changed:
        lines.append(cell("no changes", "dim"))
    show(*lines)


def _change_lines(change: DefinitionChange) -> list[RenderableType]:
    from rich.text import Text

    symbol, style = _SYMBOLS[change.action]
    kind = _kind(change.kind)
    if change.action == "updated":
        version = f"v{change.previous_version} -> v{change.version}"
    else:
        version = f"v{change.version}" + (" (unchanged)" if change.action == "unchanged" else "")
    head = Text.assemble(
        (f"{symbol} ", style), (kind, style), " ", (change.name, "bold"), f" {version}"
    )
    return [head, *(cell(f"    {_short(str(c))}") for c in change.changes)]


def _kind(kind: str) -> str:
    return kind.replace("on_demand", "on-demand").replace("_", " ")


def _short(text: str, limit: int = 120) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@app.command("list")
def list_definitions(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the registered entities, feature views and on-demand views (latest versions).

    Each row has the kind, name, latest version, a summary (keys, features, TTL, source) and when
    it was applied. --json prints a list of {kind, name, version, digest, created_at, spec}.

    Examples:

        loopml features list
        loopml features list --json
    """
    found = _store(ctx).list_definitions()
    if as_json:
        echo_json([d.to_dict() for d in found])
        return
    if not found:
        show(cell("no feature definitions yet; register some with `loopml features apply`", "dim"))
        return
    table = new_table("kind", "name", "version", "details", "applied")
    for d in found:
        table.add_row(
            cell(_kind(d.kind)),
            cell(d.name, "bold"),
            cell(d.version),
            cell(_summary(d)),
            cell(format_time(d.created_at)),
        )
    show(table)


def _summary(d: RegisteredDefinition) -> str:
    spec = d.spec
    if d.kind == "entity":
        return f"keys: {', '.join(spec['join_keys'])}"
    if d.kind == "feature_view":
        ttl = "none" if spec["ttl"] is None else f"{spec['ttl']}s"
        names = ", ".join(f["name"] for f in spec["features"])
        return f"{names} | ttl {ttl} | {spec['source']}"
    inputs = [s.get("feature_view") or s.get("request") for s in spec["sources"]]
    names = ", ".join(f["name"] for f in spec["schema"])
    return f"{names} | from {', '.join(str(i) for i in inputs)}"


@app.command("show")
def show_definition(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="A definition's name.")],
    version: Annotated[
        int | None, typer.Option("--version", "-v", metavar="N", min=1, help="That version.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show one definition: its spec and every version of it.

    Without --version the latest version is shown; the spec is printed as JSON (an on-demand view's
    code as Python). --json adds versions: [{version, digest, created_at, created_by}]. An unknown
    name exits 1, suggesting close names.

    Examples:

        loopml features show driver_stats
        loopml features show driver_stats --version 1 --json
    """
    store = _store(ctx)
    found = store.get_definition(name, version=version)
    history = [d for d in store.registry.versions(name) if d.kind == found.kind]
    if as_json:
        data = found.to_dict()
        data["versions"] = [
            {"version": d.version, "digest": d.digest, "created_at": d.created_at,
             "created_by": d.created_by}
            for d in history
        ]  # fmt: skip
        echo_json(data)
        return
    from rich.syntax import Syntax

    title = f"{_kind(found.kind)} {found.name} v{found.version}"
    spec = json.loads(json.dumps(found.spec))  # a deep copy to trim
    code = spec["function"].pop("code", None) if "function" in spec else None
    renderables: list[RenderableType] = [
        cell(title, "bold"),
        Syntax(json.dumps(spec, indent=2, ensure_ascii=False), "json", word_wrap=True),
    ]
    if code:
        renderables.append(Syntax(code, "python"))
    table = new_table("version", "digest", "applied", "by", title="versions")
    for d in history:
        table.add_row(cell(d.version), cell(d.digest[:12]), cell(format_time(d.created_at)),
                      cell(d.created_by or "-"))  # fmt: skip
    show(*renderables, table)


@app.command("materialize")
def materialize(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option("--start", metavar="TIME", help="Window start, ISO 8601 (UTC if no zone)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", metavar="TIME", help="Window end (exclusive); now.")
    ] = None,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Start each view where its last run ended.")
    ] = False,
    views: Annotated[
        list[str] | None,
        typer.Option("--view", metavar="NAME", help="Only this feature view (repeatable)."),
    ] = None,
    online_store: OnlineStoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the latest feature values per entity into the online store.

    Give --start for a window [start, end), or --incremental to continue from the
    previous run (a view never materialized starts one TTL before --end).

    Examples:

        loopml features materialize --incremental
        loopml features materialize --start 2025-01-01 --end 2025-02-01T00:00Z --view trips
    """
    if (start is None) == (not incremental):
        raise InvalidInputError(
            "give either --start TIME (a window) or --incremental (continue from the last run)"
        )
    store = _store(ctx, online_store)
    end_at = _parse_time(end, "--end") if end is not None else None
    with _Progress(quiet=as_json) as report:
        if incremental:
            results = store.materialize_incremental(end_at, views=views, progress=report)
        else:
            assert start is not None
            results = store.materialize(
                _parse_time(start, "--start"), end_at, views=views, progress=report
            )
    if as_json:
        echo_json([r.to_dict() for r in results])
        return
    table = new_table("view", "version", "start", "end", "entities")
    for r in results:
        table.add_row(cell(r.view, "bold"), cell(r.version), cell(format_time(r.start)),
                      cell(format_time(r.end)), cell(f"{r.rows:,}"))  # fmt: skip
    show(table if results else cell("no feature views to materialize", "dim"))


class _Progress:
    """A Rich progress display on stderr, one line per view; a no-op when quiet."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.display = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} entities"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=self.quiet,
        )
        self.display.__enter__()
        return self

    def __call__(self, view: str, written: int) -> None:
        task = self.tasks.get(view)
        if task is None:
            task = self.tasks[view] = self.display.add_task(view, total=None)
        self.display.update(task, completed=written)

    def __exit__(self, *exc: object) -> None:
        self.display.__exit__(None, None, None)


def _parse_time(text: str, option: str) -> datetime:
    if text.strip().lower() == "now":
        return now()
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise InvalidInputError(
            f"{option} {text!r} is not a time; use ISO 8601, e.g. 2025-01-31 or "
            "2025-01-31T12:00:00Z, or 'now'"
        ) from err
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("get")
def get(
    ctx: typer.Context,
    entities: Annotated[
        list[str],
        typer.Option(
            "--entity",
            "-e",
            metavar="KEY=VALUE",
            help="A join key or request field value; repeat a key for more rows.",
        ),
    ],
    features: Annotated[
        list[str],
        typer.Option("--feature", "-f", metavar="VIEW:FEATURE", help="A feature (repeatable)."),
    ],
    full_names: Annotated[
        bool, typer.Option("--full-names", help="Name columns `view__feature`.")
    ] = False,
    online_store: OnlineStoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Read online feature values for one or more entities.

    Each --entity gives one key's value; repeating a key adds rows, and a key given
    once applies to every row.

    Examples:

        loopml features get -e driver_id=1001 -f driver_stats:trips -f driver_stats:rating
        loopml features get -e driver_id=1001 -e driver_id=1002 -e km=3.5 -f density:per_km --json
    """
    rows = _entity_rows(entities)
    response = _store(ctx, online_store).get_online_features(
        rows, features, full_feature_names=full_names
    )
    records = [{k: _plain(v) for k, v in r.items()} for r in response.to_records()]
    if as_json:
        echo_json(records)
        return
    table = new_table(*response.columns)
    for record in records:
        table.add_row(*(cell("-" if v is None else v) for v in record.values()))
    show(table)


def _plain(value: Any) -> Any:
    """A value JSON and tables can show: times as ISO 8601, bytes as hex."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _entity_rows(pairs: list[str]) -> list[dict[str, Any]]:
    values: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(
                f"--entity {pair!r} must look like KEY=VALUE, e.g. driver_id=1001"
            )
        values.setdefault(key.strip(), []).append(value)
    counts = {len(v) for v in values.values()} - {1}
    if len(counts) > 1:
        raise InvalidInputError(
            "every repeated --entity key must be given the same number of times "
            f"(got {', '.join(f'{k}: {len(v)}' for k, v in values.items())})"
        )
    size = max(counts, default=1)
    return [{k: v[i] if len(v) > 1 else v[0] for k, v in values.items()} for i in range(size)]
