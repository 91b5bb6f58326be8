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
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Worker processes (pre-forked, one SO_REUSEPORT socket each); default: the "
            "most any served deployment asks for (its resources), else 1.",
        ),
    ] = None,
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
    max_batch_size: Annotated[
        int,
        typer.Option(
            "--max-batch-size",
            min=1,
            max=4096,
            help="Merge concurrent requests' rows into one model call of up to N rows "
            "(1: off). For models:/ specs; a deployment uses its own resources.",
        ),
    ] = 1,
    max_batch_time_ms: Annotated[
        float,
        typer.Option(
            "--max-batch-time-ms",
            min=0,
            max=10_000,
            help="How long the first request of a batch waits for company.",
        ),
    ] = 2.0,
    runtime: Annotated[
        str,
        typer.Option(
            "--runtime",
            metavar="RUNTIME",
            help="native (the package's flavor) or onnx (the graph converted at "
            "registration). For models:/ specs.",
        ),
    ] = "native",
    device: Annotated[
        str,
        typer.Option("--device", metavar="DEVICE", help="cpu, cuda or cuda:N. For models:/ specs."),
    ] = "cpu",
    payload_log: Annotated[
        bool,
        typer.Option(
            "--payload-log/--no-payload-log",
            help="Log every prediction (see loopml predictions); a deployment's own settings "
            "decide sampling and what is kept.",
        ),
    ] = True,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow/--no-follow",
            help="Swap to new versions when an alias moves or a deployment changes.",
        ),
    ] = True,
    poll_seconds: Annotated[
        float,
        typer.Option(
            "--poll-seconds", min=0.01, max=3600, help="How often to look for such changes."
        ),
    ] = 2.0,
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
        loopml serve models:/churn@production --runtime onnx --max-batch-size 32
    """
    from loopml.serving.app import ServerLimits
    from loopml.serving.policy import Resources
    from loopml.serving.server import ServerOptions
    from loopml.serving.server import serve as run

    settings = get_state(ctx).settings()
    if workers is None:
        workers = _deployments_workers(specs, settings)
    resources = Resources(
        workers=workers,
        device=device,
        max_batch_size=max_batch_size,
        max_batch_time_ms=max_batch_time_ms,
        runtime=runtime,  # type: ignore[arg-type]  # checked by Resources
    )
    options = ServerOptions(
        host=host,
        port=port,
        workers=workers,
        limits=ServerLimits(max_body_bytes=max_body_bytes, body_timeout=body_timeout),
        keep_alive=keep_alive,
        graceful_timeout=graceful_timeout,
        trusted=tuple(trust or ()),
        payload_log=payload_log,
        resources=resources,
        follow=follow,
        poll_seconds=poll_seconds,
        on_ready=_announce,
    )
    run(specs, options, settings=settings)


def _deployments_workers(specs: Sequence[str], settings: Any) -> int:
    """The most worker processes any stored deployment among ``specs`` asks for (else 1)."""
    from loopml.serving.deployments import DeploymentClient
    from loopml.uris import is_uri

    names = [spec for spec in specs if not is_uri(spec)]
    if not names:
        return 1
    client = DeploymentClient(settings)
    return max(client.get(name).resources.workers for name in names)


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
