"""The demo's release section: from a trained model package to production, through the CLI.

Register the forest the training pipeline logged, give the model a promotion policy
(quality, a champion comparison, a fairness gap across plans, a fresh-process load),
evaluate it on the held-out dataset version, get it approved and promoted; then train a
challenger, compare it with the champion on the same data and promote it if it holds
up. Finally the alias history and the model card.

Running ``make demo`` again finds the forest already registered and goes on with a new
challenger; a version that fails a gate simply stays out of production.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml

MODEL = "churn"
APPROVER = "demo-lead"
GATES = (
    "accuracy >= 0.7",
    "roc_auc >= champion - 0.02",
    "gap(accuracy, by=plan) <= 0.15",
    "infra",
)
_LOOPML = [str(Path(sys.executable).parent / "loopml")]


class Release:
    """Runs ``loopml models …`` commands, showing each one as a reader would type it."""

    def __init__(self, console: Console, holdout: str) -> None:
        self.console = console
        self.holdout = holdout

    def run(self, *args: str, user: str | None = None) -> int:
        prefix = f"LOOPML_USER={user} " if user else ""
        self.console.print(f"\n$ {prefix}loopml {shlex.join(args)}", markup=False)
        env = {**os.environ, "LOOPML_USER": user} if user else None
        return subprocess.run([*_LOOPML, *args], check=False, env=env).returncode

    def json(self, *args: str, quiet: bool = False) -> Any:
        if not quiet:
            self.console.print(f"\n$ loopml {shlex.join(args)} --json", markup=False)
        done = subprocess.run(
            [*_LOOPML, *args, "--json"], check=True, capture_output=True, text=True
        )
        return json.loads(done.stdout)

    def register(self, source: str, description: str) -> int:
        version = self.json("models", "register", source, MODEL, "-d", description)
        self.console.print(f"-> {version['uri']}, status {version['status']}", markup=False)
        return int(version["version"])

    def evaluate(self, version: int) -> bool:
        """Evaluate with the policy's gates; True when every gate held."""
        code = self.run(
            "models", "evaluate", f"models:/{MODEL}/{version}",
            "--data", self.holdout, "--target", "churned", "--slice", "plan",
        )  # fmt: skip
        return code == 0

    def approve_and_promote(self, version: int) -> bool:
        comment = "reviewed the slices and the champion comparison"
        if self.run("models", "approve", MODEL, str(version), "-m", comment, user=APPROVER):
            return False
        reason = f"passed the policy gates on {self.holdout}"
        return self.run("models", "promote", MODEL, str(version), "--reason", reason) == 0

    def registered_from(self, run_id: str) -> int | None:
        """The version already registered from ``run_id``'s package, if any."""
        try:
            shown = self.json("models", "show", MODEL, quiet=True)
        except subprocess.CalledProcessError:  # no such model yet
            return None
        found = [v["version"] for v in shown["versions"] if v["run_id"] == run_id]
        return found[0] if found else None


def release(console: Console, trained_run: str, holdout: str, features: list[str]) -> int:
    """Register, gate, approve and promote the pipeline's model, then a challenger."""
    desk = Release(console, holdout)
    forest = desk.registered_from(trained_run)
    again = forest is not None
    if forest is None:
        forest = desk.register(f"runs:/{trained_run}/model", "random forest from churn_training")
    gates = [arg for gate in GATES for arg in ("--gate", gate)]
    desk.run("models", "policy", "set", MODEL, *gates,
             "--require-approval", "--approver-role", "ml-lead")  # fmt: skip
    desk.run("models", "roles", "grant", APPROVER, "ml-lead")
    if again:
        console.print(f"\nthe pipeline's forest is models:/{MODEL}/{forest} (an earlier demo)")
    else:
        passed = desk.evaluate(forest)
        console.print("\npromoting it before anyone approved it is refused, with every reason:")
        desk.run("models", "promote", MODEL, str(forest))
        if passed:
            desk.approve_and_promote(forest)

    console.print("\na challenger: a scaled logistic regression on the same training set")
    with loopml.start_run(experiment="churn-challengers", name="logistic-regression"):
        data = loopml.load_dataset("churn_training_set")
        x, y = data[features], data["churned"]
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
        info = loopml.log_model(model, "model", input_example=x.head())
    challenger = desk.register(info.uri, "logistic regression challenger")
    if not desk.evaluate(challenger) or not desk.approve_and_promote(challenger):
        console.print(f"models:/{MODEL}/{challenger} stays out of production")

    if desk.run("models", "history", MODEL, "--alias", "production"):
        return 1
    current = desk.json("models", "show", f"{MODEL}@production", quiet=True)["version"]
    card = Path(".loopml") / "demo" / f"{MODEL}-v{current}-card.md"
    desk.run("models", "card", MODEL, str(current), "--out", str(card))
    desk.run("models", "card", MODEL, str(current), "--out", str(card.with_suffix(".html")))
    console.print(f"\nthe first lines of {card}:\n", markup=False)
    console.print("\n".join(card.read_text().splitlines()[:24]), markup=False)
    return 0
