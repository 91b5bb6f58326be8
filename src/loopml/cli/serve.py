"""``loopml serve``: serve registered models or stored deployments over HTTP.

Example:
    $ loopml serve models:/churn@staging --port 8080 --workers 2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from loopml.cli._state import get_state

__all__ = ["serve"]


def serve(
    ctx: typer.Context,
    specs: Annotated[
        list[str],
        typer.Argument(
            metavar="SPEC...",
            help="What to serve: models:/NAME@ALIAS (follows the alias), models:/NAME/VERSION, "
            "or a stored deployment's name.",
        ),
    ],
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Worker processes (pre-forked, one SO_REUSEPORT socket each).",
        ),
    ] = 1,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="Larger request bodies get 413.")
    ] = 32 * 1024 * 1024,
    body_timeout: Annotated[
        float,
        typer.Option("--body-timeout", min=0.001, help="Seconds to send a body before 408."),
    ] = 30.0,
    keep_alive: Annotated[
        float, typer.Option("--keep-alive", min=1, help="Seconds an idle connection stays open.")
    ] = 5.0,
    graceful_timeout: Annotated[
        float,
        typer.Option(
            "--graceful-timeout", min=1, help="Seconds in-flight requests get on shutdown."
        ),
    ] = 30.0,
    trust: Annotated[
        list[str] | None,
        typer.Option(
            "--trust",
            metavar="TYPE",
            help="Trust this type or pyfunc class when loading (repeatable); only for models "
            "whose author you trust.",
        ),
    ] = None,
) -> None:
    """Serve models over HTTP: the Open Inference Protocol (V2), MLflow's scoring format and
    simple JSON, with Prometheus metrics at /metrics.

    Every model is loaded before the port opens. With one SPEC, POST /predict and
    /invocations answer for it; with several, each is served under its own name:
    /endpoints/NAME/predict, /endpoints/NAME/invocations and /v2/models/NAME/infer.
    Stop with Ctrl-C or SIGTERM: in-flight requests finish first.

    Examples:

        loopml serve models:/churn@staging
        loopml serve models:/churn/3 --port 9000 --workers 4
        loopml serve churn-api fraud-api --host 0.0.0.0
    """
    from loopml.serving.app import ServerLimits
    from loopml.serving.server import ServerOptions
    from loopml.serving.server import serve as run

    options = ServerOptions(
        host=host,
        port=port,
        workers=workers,
        limits=ServerLimits(max_body_bytes=max_body_bytes, body_timeout=body_timeout),
        keep_alive=keep_alive,
        graceful_timeout=graceful_timeout,
        trusted=tuple(trust or ()),
        on_ready=_announce,
    )
    run(specs, options, settings=get_state(ctx).settings())


def _announce(url: str, endpoints: Sequence[Any]) -> None:
    lines = [f"serving on {url}"]
    for endpoint in endpoints:
        targets = ", ".join(
            f"{t} -> {label}" for t, label in endpoint.describe()["targets"].items()
        )
        lines.append(f"  {endpoint.name}: {url}/v2/models/{endpoint.name}/infer ({targets})")
    if len(endpoints) == 1:
        lines.append(f"  POST {url}/predict or {url}/invocations")
    else:
        lines.append(f"  POST {url}/endpoints/<name>/predict or /endpoints/<name>/invocations")
    typer.echo("\n".join(lines), err=False)
