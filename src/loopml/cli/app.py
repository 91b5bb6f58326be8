"""The root ``loopml`` command: global options, the command groups, and error reporting.

Every error a command raises passes through :class:`LoopmlGroup`: a
:class:`~loopml.errors.LoopmlError` becomes one ``error: …`` line and its exit code
(1 failure, 2 invalid input). An exception raised in the user's own code (a pipeline,
a definitions file) is shown at the user's file and line, and a full disk with the space
left (both exit 1); anything else is a bug, reported briefly (the traceback only with
``LOOPML_DEBUG=1``) with exit code 1.

Example:
    >>> from typer.testing import CliRunner
    >>> CliRunner().invoke(app, ["--version"]).stdout  # doctest: +SKIP
    'loopml 0.1.0\\n'
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from loopml.cli import (
    artifacts,
    automation,
    data,
    db,
    deployments,
    experiments,
    features,
    feedback,
    lineage,
    maturity,
    models,
    monitor,
    pipeline,
    predict,
    predictions,
    reproduce,
    runs,
    server,
)
from loopml.cli._failures import blame
from loopml.cli._output import JSON_META_KEY, print_error, print_unexpected, silence_stdout
from loopml.cli._state import CliState, get_state
from loopml.cli.envs import envs
from loopml.cli.gc import gc
from loopml.cli.init import init
from loopml.cli.serve import serve
from loopml.errors import LoopmlError

__all__ = ["LoopmlGroup", "app", "main"]

# Usage errors (exit 2), explicit exits and Ctrl-C: Typer reports those itself.
_PASS_THROUGH = (typer.TyperException, typer.Exit, typer.Abort)


class LoopmlGroup(TyperGroup):
    """The root group; turns exceptions from any command into a message and an exit code."""

    def invoke(self, ctx: Any) -> Any:  # Any: click's Context, vendored by newer Typers
        """Run the command, reporting errors the loopml way."""
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except BrokenPipeError:  # the reader stopped early (`| head`): not worth a message
            silence_stdout()
            raise typer.Exit(1) from None
        except LoopmlError as err:
            print_error(err, as_json=bool(ctx.meta.get(JSON_META_KEY)))
            raise typer.Exit(err.exit_code) from None
        except Exception as err:
            as_json = bool(ctx.meta.get(JSON_META_KEY))
            known = blame(err, _store_paths(ctx))  # the user's own code, a full disk
            if known is None:
                print_unexpected(err, as_json=as_json)
            else:
                print_error(known, as_json=as_json)
            raise typer.Exit(1) from None


def _store_paths(ctx: Any) -> list[Path]:
    """The folders the store writes to (for a full disk's message); none if unknown."""
    try:
        settings = get_state(ctx).settings()
    except Exception:  # the settings themselves are broken: the error says more than this
        return []
    paths = [settings.home]
    if "://" not in settings.artifacts_url or settings.artifacts_url.startswith("file:"):
        paths.append(Path(settings.artifacts_url.removeprefix("file://")))
    return paths


app = typer.Typer(
    name="loopml",
    cls=LoopmlGroup,
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion [bash|zsh|fish|powershell]
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(db.app, name="db")
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(models.app, name="models")
app.add_typer(deployments.app, name="deployments")
app.add_typer(monitor.app, name="monitor")
app.add_typer(automation.app, name="automation")
app.add_typer(automation.plans_app, name="plans")
app.command("agent")(automation.agent)
app.command("trigger")(automation.trigger)
app.command("status")(automation.status)
app.command("maturity")(maturity.maturity)
app.command("lineage")(lineage.lineage)
app.command("predict")(predict.predict)
app.command("predictions")(predictions.predictions)
app.command("feedback")(feedback.feedback)
app.command("reproduce")(reproduce.reproduce)
app.command("init")(init)
app.command("envs")(envs)
app.command("gc")(gc)
app.command("serve")(serve)
app.command("server")(server.server)
app.add_typer(server.users_app, name="users")
app.add_typer(server.tokens_app, name="tokens")


def _print_version(value: bool) -> None:
    if value:
        from loopml import __version__

        typer.echo(f"loopml {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            metavar="NAME",
            help="The [env.NAME] profile of loopml.toml to use, e.g. dev, staging, prod "
            "(default: $LOOPML_ENV; `loopml envs` lists them).",
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            metavar="DIR",
            help="Where loopml keeps its data (default: $LOOPML_HOME, loopml.toml, ./.loopml).",
            file_okay=False,
        ),
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option(
            "--db-url",
            metavar="URL",
            help="Metadata database URL, e.g. sqlite:///m.db or postgresql+psycopg://h/db.",
        ),
    ] = None,
    artifacts_url: Annotated[
        str | None,
        typer.Option(
            "--artifacts",
            metavar="URL",
            help="Artifact store: a folder or a URL such as s3://bucket/prefix.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print loopml's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """loopml: track, version, train, deploy and monitor models as one closed loop.

    Global options go before the command and override $LOOPML_HOME, $LOOPML_DB_URL,
    $LOOPML_ARTIFACTS and loopml.toml; --env picks one [env.NAME] profile of loopml.toml.
    Set LOOPML_DEBUG=1 to see tracebacks of bugs.

    Examples:

        loopml init
        loopml runs list -e churn -f "metrics.auc > 0.9" -o "metrics.auc desc"
        loopml models promote churn 3 --reason "beats v2 on recall"
        loopml --home /data/.loopml runs show 01J0ABCDEFGHJKMNPQRSTVWXYZ
        loopml --env staging models list
    """
    ctx.obj = CliState(home=home, db_url=db_url, artifacts_url=artifacts_url, env=env)
    ctx.call_on_close(ctx.obj.close)  # a server's clients: their connections end with the command


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``loopml`` command line; exits the process with the command's code.

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` when ``None``.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        loopml 0.1.0
    """
    try:
        app(args=list(argv) if argv is not None else None, prog_name="loopml")
    except BrokenPipeError:  # while printing help, before any command ran
        silence_stdout()
        sys.exit(1)
