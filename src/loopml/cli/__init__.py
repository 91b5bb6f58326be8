"""The ``loopml`` command line (Typer + Rich); it mirrors the SDK.

Example:
    $ loopml runs list -e churn --json
    $ python -m loopml --version
"""

from loopml.cli.app import app, main

__all__ = ["app", "main"]
