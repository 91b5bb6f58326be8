"""loopml quickstart: track a few scikit-learn models, then search and compare them.

Run it with ``make demo`` (or ``python examples/quickstart/quickstart.py``). Everything
lands in ``./.loopml`` next to where you run it: no server needed. Afterwards try:

    loopml runs list -e quickstart
    loopml runs compare <run-id> <run-id>
"""

from __future__ import annotations

import sys
import uuid

from rich.console import Console
from rich.table import Table
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml

EXPERIMENT = "quickstart"


def main() -> int:
    console = Console()
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)

    # autolog records params, training metrics and the fitted model of every fit.
    loopml.autolog()
    candidates = {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "forest": RandomForestClassifier(n_estimators=200, random_state=0),
        "boosting": GradientBoostingClassifier(random_state=0),
    }
    session = uuid.uuid4().hex[:8]  # tells this invocation's runs from earlier ones
    for name, model in candidates.items():
        with loopml.start_run(experiment=EXPERIMENT, name=name, tags={"session": session}):
            model.fit(x_train, y_train)
            # Metrics you compute yourself sit beside the autologged ones.
            loopml.log_metric("test_accuracy", model.score(x_test, y_test))
            loopml.set_tag("dataset", "breast_cancer")
        console.print(f"trained [bold]{name}[/bold]")

    runs = loopml.search_runs(
        EXPERIMENT,
        filter=f"metrics.test_accuracy > 0.9 and tags.session = '{session}'",
        order_by=["metrics.test_accuracy desc"],
    )
    table = Table(title=f"experiment '{EXPERIMENT}': runs with test accuracy > 0.9, best first")
    for column in ("rank", "name", "test accuracy", "training accuracy", "training F1"):
        table.add_column(column)
    table.add_column("run id", no_wrap=True)
    for rank, run in enumerate(runs, start=1):
        table.add_row(
            str(rank),
            run.name,
            f"{run.metrics['test_accuracy']:.4f}",
            f"{run.metrics['training_accuracy_score']:.4f}",
            f"{run.metrics['training_f1_score']:.4f}",
            run.id,
        )
    console.print(table)
    if not runs:
        console.print("[red]no run reached the accuracy bar[/red]")
        return 1
    console.print(f"best: {runs[0].name} ({runs[0].uri}); its model is at {runs[0].uri}/model")
    console.print("next: `loopml runs list -e quickstart` and `loopml runs compare <id> <id>`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
