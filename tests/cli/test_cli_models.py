"""``loopml models …`` on a real store with real scikit-learn packages and dataset versions."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.packaging.package import save_package
from loopml.tracking import TrackingClient

FEATURES = ["tenure", "spend"]
# Evaluations here skip the fresh-process check (seconds each) unless a test is about it.
FAST = ("--no-infra",)


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.normal(0, 1, rows)
    return pd.DataFrame(
        {
            "tenure": tenure,
            "spend": rng.normal(0, 1, rows),
            "plan": rng.choice(["basic", "pro"], rows),
            "churned": (tenure + rng.normal(0, 0.5, rows) > 0).astype("int64"),
        }
    )


@dataclass(frozen=True)
class Packages:
    """Two logged packages: a good logistic regression and a model that always says 0."""

    good: str
    weak: str


@pytest.fixture
def packages(client: TrackingClient, home: Path, tmp_path: Path) -> Packages:
    train = frame(300, seed=1)
    DatasetClient(Settings.load(home=home)).log("holdout", frame(200, seed=2))
    x, y = train[FEATURES], train["churned"]
    uris = []
    for name, model in (
        ("good", LogisticRegression().fit(x, y)),
        ("weak", DummyClassifier(strategy="constant", constant=0).fit(x, y)),
    ):
        run = client.create_run("churn", name=name, params={"kind": name})
        client.log_metrics(run.id, {"train_accuracy": float(model.score(x, y))})
        save_package(model, tmp_path / name, input_example=x.head(), source_run=run.id)
        client.log_artifacts(run.id, tmp_path / name, "model")
        client.end_run(run.id)
        uris.append(f"runs:/{run.id}/model")
    client.flush()
    return Packages(*uris)


def register(cli: Any, uri: str, name: str = "churn") -> int:
    return int(cli.json("models", "register", uri, name)["version"])


def evaluate(cli: Any, uri: str, *args: str) -> Any:
    return cli.run(
        "models", "evaluate", uri, "--data", "datasets:/holdout/1", "--target", "churned", *args
    )


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines()]


# -- register, list, show --------------------------------------------------------------


def test_register_then_list_and_show(cli: Any, packages: Packages) -> None:
    first = cli.json("models", "register", packages.good, "churn", "-d", "baseline", "-t", "a=b")
    assert (first["uri"], first["status"], first["flavor"]) == (
        "models:/churn/1",
        "registered",
        "sklearn",
    )
    assert first["tags"] == {"a": "b"}
    result = cli.run("models", "register", packages.weak, "churn")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("registered models:/churn/2 (sklearn, status registered)")
    [listed] = cli.json("models", "list")
    assert (listed["name"], listed["latest_version"]) == ("churn", 2)
    shown = cli.json("models", "show", "churn")
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["policy"]["protected_aliases"] == ["production"]
    one = cli.json("models", "show", "models:/churn/1")
    assert (one["description"], one["approvals"], one["evaluations"]) == ("baseline", [], [])
    text = cli.run("models", "show", "churn").stdout
    assert "versions of churn" in text
    assert "promotion policy" in text


def test_unknown_names_and_bad_sources_are_one_line_errors(cli: Any, packages: Packages) -> None:
    register(cli, packages.good)
    missing = cli.run("models", "show", "churn@prod")
    assert missing.exit_code == 1
    assert lines(missing.stderr) == [
        "error: alias 'churn@prod' not found; aliases of 'churn': none yet"
    ]
    folder = cli.run("models", "register", "no/such/folder", "churn")
    assert folder.exit_code == 2
    assert "neither a runs:/RUN_ID/PATH URI nor a package folder" in folder.stderr
    assert len(lines(folder.stderr)) == 1
    assert cli.run("models", "show", "not a model").exit_code == 2
    assert cli.run("models", "list", "--json").exit_code == 0


def test_a_package_whose_flavor_runs_a_command_is_refused_and_nothing_runs(
    cli: Any, packages: Packages, client: TrackingClient, home: Path, tmp_path: Path
) -> None:
    """Issue 10: model.json's flavor "py:os:system?command=…" used to run the command."""
    from loopml import load_model
    from loopml.errors import LoopmlError

    folder = tmp_path / "pkg"
    model = DummyClassifier(strategy="constant", constant=0).fit(frame(20, 3)[FEATURES], [0] * 20)
    save_package(model, folder)
    manifest = json.loads((folder / "model.json").read_text())
    manifest["flavor"] = "py:os:system?command=touch pwned"
    (folder / "model.json").write_text(json.dumps(manifest))
    registered = cli.run("models", "register", str(folder), "evil")
    assert registered.exit_code == 2
    assert lines(registered.stderr) == [
        f"error: {folder}: model.json's flavor is refused: 'py:os:system?command=touch pwned' "
        "is not a model flavor: 'system' in module 'os' is not a class; name a class "
        "implementing loopml.packaging.flavors.base.Flavor"
    ]
    with pytest.raises(LoopmlError, match="model 'evil' not found"):
        load_model("models:/evil/1", settings=Settings.load(home=home))
    assert evaluate(cli, "models:/evil/1", *FAST).exit_code == 1
    # the same package stored by a run: refused unless trusted, and trusting is not enough
    run = client.create_run("churn", name="evil")
    client.log_artifacts(run.id, folder, "model")
    client.end_run(run.id)
    untrusted = evaluate(cli, f"runs:/{run.id}/model", *FAST)
    assert untrusted.exit_code == 1
    assert "--trust os.system" in untrusted.stderr
    trusted = evaluate(cli, f"runs:/{run.id}/model", *FAST, "--trust", "os.system")
    assert trusted.exit_code == 2
    assert "is not a class" in trusted.stderr
    assert not Path("pwned").exists()


# -- aliases and history ---------------------------------------------------------------


def test_alias_moves_are_kept_and_answer_what_pointed_where_when(
    cli: Any, packages: Packages
) -> None:
    register(cli, packages.good)
    register(cli, packages.weak)
    assert cli.run("models", "alias", "churn", "staging", "1", "--reason", "smoke").exit_code == 0
    moved = cli.run("models", "alias", "churn", "staging", "2")
    assert moved.stdout.strip() == "churn@staging -> models:/churn/2"
    history = cli.json("models", "history", "churn")
    assert [(h["alias"], h["previous_version"], h["version"], h["reason"]) for h in history] == [
        ("staging", None, 1, "smoke"),
        ("staging", 1, 2, None),
    ]
    now = cli.json("models", "history", "churn", "--alias", "staging", "--at", "now")
    assert now["version"] == 2
    before = cli.json("models", "history", "churn", "-a", "staging", "--at", "2001-02-03")
    assert before["version"] is None
    text = cli.run("models", "history", "churn", "--alias", "staging", "--at", "1d ago").stdout
    assert text.startswith("churn@staging pointed at nothing at ")
    assert "v1 -> v2" in cli.run("models", "history", "churn").stdout
    assert cli.run("models", "history", "churn", "--at", "now").exit_code == 2  # needs --alias
    assert cli.run("models", "history", "churn", "-a", "staging", "--at", "soon").exit_code == 2
    assert cli.run("models", "alias", "churn", "staging", "--remove").exit_code == 0
    assert cli.json("models", "history", "churn")[-1]["version"] is None
    assert cli.run("models", "alias", "churn", "staging").exit_code == 2  # no version, no --remove
    protected = cli.run("models", "alias", "churn", "production", "1")
    assert protected.exit_code == 2
    assert "promote" in protected.stderr


def test_archive_refuses_a_version_an_alias_points_at(cli: Any, packages: Packages) -> None:
    register(cli, packages.good)
    register(cli, packages.weak)
    cli.run("models", "alias", "churn", "staging", "1")
    refused = cli.run("models", "archive", "churn", "1")
    assert refused.exit_code == 1
    assert "staging" in refused.stderr
    archived = cli.json("models", "archive", "churn", "2", "--reason", "constant model")
    assert archived["status"] == "archived"


# -- evaluation ------------------------------------------------------------------------


def test_evaluate_prints_metrics_slices_and_each_gate(cli: Any, packages: Packages) -> None:
    register(cli, packages.good)
    gates = ("--gate", "accuracy >= 0.6", "--gate", "f1 >= champion - 0.05")
    result = evaluate(cli, "churn/1", "--slice", "plan", *gates, *FAST)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith("evaluated models:/churn/1 on datasets:/holdout/1 (classification")
    assert "slice by plan" in text
    assert "basic" in text
    assert "pro" in text
    gate_lines = [line for line in lines(text) if "accuracy >= 0.6" in line or "champion" in line]
    assert gate_lines[0].startswith("✔")
    assert gate_lines[1].startswith("skipped")
    assert "no champion: models:/churn@production does not exist" in gate_lines[1]
    assert "passed: every gate holds" in text
    assert "models:/churn/1 is now validated" in text
    body = json.loads(evaluate(cli, "churn/1", "--slice", "plan", *gates, *FAST, "--json").stdout)
    assert (body["passed"], body["status"]) == (True, "validated")
    assert set(body["slices"]["plan"]) == {"basic", "pro"}
    assert body["metrics"]["accuracy"] > 0.6


def test_evaluate_writes_a_report_with_its_figures(
    cli: Any, packages: Packages, tmp_path: Path
) -> None:
    register(cli, packages.good)
    page = tmp_path / "evaluation.html"
    result = evaluate(cli, "churn/1", "--slice", "plan", *FAST, "--report", str(page))
    assert result.exit_code == 0, result.stderr
    html = page.read_text()
    assert 'id="fig-confusion_matrix"' in html
    assert 'id="fig-slices"' in html
    assert "<script src" not in html


def test_a_failing_gate_exits_1_and_rejects_the_version(cli: Any, packages: Packages) -> None:
    register(cli, packages.weak)
    result = evaluate(cli, "models:/churn/1", "--gate", "accuracy >= 0.9", *FAST)
    assert result.exit_code == 1
    assert [line for line in lines(result.stdout) if line.startswith("✘")]
    assert "failed: 1 gate(s) refuse the model" in result.stdout
    assert cli.json("models", "show", "churn/1")["status"] == "rejected"
    bad_gate = evaluate(cli, "churn/1", "--gate", "acuracy >= 0.9", *FAST)
    assert bad_gate.exit_code == 2
    assert "did you mean accuracy" in bad_gate.stderr


def test_the_infra_gate_loads_the_package_in_a_fresh_process(cli: Any, packages: Packages) -> None:
    register(cli, packages.good)
    body = json.loads(evaluate(cli, "churn/1", "--gate", "infra", "--json").stdout)
    [gate] = body["gates"]
    assert (gate["gate"], gate["passed"]) == ("infra", True), gate["reason"]


# -- governance ------------------------------------------------------------------------


def test_policy_set_checks_gates_and_keeps_what_is_not_given(cli: Any, packages: Packages) -> None:
    register(cli, packages.good)
    typo = cli.run("models", "policy", "set", "churn", "--gate", "accuracy => 0.7")
    assert typo.exit_code == 2
    assert "did you mean '>='?" in typo.stderr
    policy = cli.json(
        "models", "policy", "set", "churn", "--gate", "accuracy >= 0.7", "--gate", "infra",
        "--require-approval", "--approver-role", "ml-lead",
    )  # fmt: skip
    assert policy == {
        "gates": ["accuracy >= 0.7", "infra"],
        "require_approval": True,
        "approver_role": "ml-lead",
        "protected_aliases": ["production"],
    }
    changed = cli.json("models", "policy", "set", "churn", "--no-require-approval")
    assert changed["gates"] == ["accuracy >= 0.7", "infra"]
    assert changed["require_approval"] is False
    assert cli.json("models", "policy", "show", "churn") == changed
    cleared = cli.json("models", "policy", "set", "churn", "--no-gates", "--approver-role", "")
    assert (cleared["gates"], cleared["approver_role"]) == ([], None)


def test_policy_set_refuses_a_gate_on_a_metric_no_evaluation_computes(
    cli: Any, packages: Packages
) -> None:
    register(cli, packages.good)
    before = cli.json("models", "policy", "set", "churn", "--gate", "accuracy >= 0.7")
    typo = cli.run("models", "policy", "set", "churn", "--gate", "acuracy >= 0.9")
    assert typo.exit_code == 2, typo.stdout
    assert "unknown metric 'acuracy'; did you mean accuracy?" in typo.stderr
    assert "rmse" in typo.stderr  # the metrics of every task are listed
    gap = cli.run("models", "policy", "set", "churn", "--gate", "gap(rows, by=plan) <= 1")
    assert (gap.exit_code, "measured over the whole data only" in gap.stderr) == (2, True)
    assert cli.json("models", "policy", "show", "churn") == before


def test_promotion_lists_every_reason_until_gates_and_approval_are_met(
    cli: Any, packages: Packages
) -> None:
    register(cli, packages.good)
    cli.run("models", "policy", "set", "churn", "--gate", "accuracy >= 0.6",
            "--require-approval", "--approver-role", "ml-lead")  # fmt: skip
    refused = cli.run("models", "promote", "churn", "1")
    assert refused.exit_code == 1
    [first, *reasons] = lines(refused.stderr)
    assert first == "error: cannot promote models:/churn/1 to production:"
    assert len(reasons) == 3
    assert all(reason.startswith("- ") for reason in reasons)
    assert "needs an approval from someone with role 'ml-lead'" in refused.stderr
    as_json = cli.run("models", "promote", "churn", "1", "--json")
    assert len(json.loads(as_json.stdout)["error"]["details"]["reasons"]) == 3

    assert evaluate(cli, "churn/1", *FAST).exit_code == 0  # the policy's gate applies
    not_a_lead = cli.run("models", "approve", "churn", "1", env={"LOOPML_USER": "bob"})
    assert not_a_lead.exit_code == 1
    assert "ml-lead" in not_a_lead.stderr
    assert cli.run("models", "roles", "grant", "alice", "ml-lead").exit_code == 0
    [grant] = cli.json("models", "roles", "list")
    assert (grant["user"], grant["role"]) == ("alice", "ml-lead")
    approved = cli.run(
        "models", "approve", "churn", "1", "-m", "looks right", env={"LOOPML_USER": "alice"}
    )
    assert approved.stdout.strip() == "approved models:/churn/1 by alice as ml-lead"
    promoted = cli.run("models", "promote", "churn", "1", "--reason", "first model")
    assert promoted.exit_code == 0, promoted.stderr
    assert promoted.stdout.strip() == "churn@production -> models:/churn/1; status deployed"
    shown = cli.json("models", "show", "churn@production")
    assert (shown["version"], shown["status"]) == (1, "deployed")
    assert [(a["decision"], a["actor"], a["comment"]) for a in shown["approvals"]] == [
        ("approved", "alice", "looks right")
    ]
    assert cli.json("models", "history", "churn")[0]["reason"] == "first model"


def test_a_challenger_is_compared_with_the_champion(cli: Any, packages: Packages) -> None:
    register(cli, packages.good)
    evaluate(cli, "churn/1", "--gate", "accuracy >= 0.6", *FAST)
    assert cli.run("models", "promote", "churn", "1").exit_code == 0
    register(cli, packages.weak)
    result = evaluate(cli, "churn/2", "--gate", "accuracy >= champion - 0.01", *FAST)
    assert result.exit_code == 1
    assert "champion (v1)" in result.stdout
    assert "accuracy >= champion - 0.01" in result.stdout
    body = json.loads(evaluate(cli, "churn/2", "--gate", "f1 >= 0", *FAST, "--json").stdout)
    assert body["champion"]["uri"] == "models:/churn@production"
    assert body["champion"]["version"] == 1
    promoted = cli.run("models", "promote", "churn", "2")
    assert promoted.exit_code == 0  # no policy gates: a validated version may go
    assert cli.json("models", "show", "churn@production")["version"] == 2


def test_reject_needs_a_comment(cli: Any, packages: Packages) -> None:
    register(cli, packages.good)
    assert cli.run("models", "reject", "churn", "1").exit_code == 2
    rejected = cli.json("models", "reject", "churn", "1", "--comment", "leaky feature")
    assert (rejected["decision"], rejected["comment"]) == ("rejected", "leaky feature")
    assert cli.json("models", "show", "churn/1")["status"] == "rejected"


# -- card and lineage ------------------------------------------------------------------


def test_card_prints_markdown_or_writes_html(cli: Any, packages: Packages, tmp_path: Path) -> None:
    register(cli, packages.good)
    evaluate(cli, "churn/1", "--slice", "plan", "--gate", "accuracy >= 0.6", *FAST)
    printed = cli.run("models", "card", "churn", "1")
    assert printed.exit_code == 0, printed.stderr
    text = printed.stdout
    assert text.startswith("# churn v1\n")
    assert "| `tenure` | double |" in text
    assert "| kind | good |" in text
    assert "| ✔ passed | `accuracy >= 0.6` |" in text
    out = tmp_path / "cards" / "churn-1.html"
    written = cli.run("models", "card", "churn", "1", "--out", str(out))
    assert written.stdout.strip() == f"wrote the card of models:/churn/1 to {out} (html)"
    assert out.read_text().startswith("<!DOCTYPE html>")
    forced = cli.run("models", "card", "churn", "1", "--format", "html")
    assert "<table>" in forced.stdout
    # a link planted where the card goes is refused, not written through (issue 10)
    elsewhere = tmp_path / "elsewhere.html"
    elsewhere.write_text("keep")
    (tmp_path / "cards" / "linked.html").symlink_to(elsewhere)
    linked = cli.run("models", "card", "churn", "1", "--out", str(tmp_path / "cards/linked.html"))
    assert linked.exit_code == 2
    assert "linked.html is a symbolic link" in linked.stderr
    assert elsewhere.read_text() == "keep"


def flatten(entries: list[dict[str, Any]], depth: int = 0) -> list[tuple[int, str, str]]:
    out = []
    for entry in entries:
        out.append((depth, entry["edge"], entry["kind"]))
        out += flatten(entry["children"], depth + 1)
    return out


def test_lineage_of_a_model_version(cli: Any, packages: Packages) -> None:
    register(cli, packages.good)
    evaluate(cli, "churn/1", "--gate", "accuracy >= 0.6", *FAST)
    cli.run("models", "promote", "churn", "1")
    register(cli, packages.good)
    evaluate(cli, "churn/2", "--gate", "accuracy >= 0.6", *FAST)
    cli.run("models", "promote", "churn", "2")
    found = cli.json("lineage", "models:/churn@production")
    assert found["node"] == {"kind": "model_version", "id": "churn/2", "label": "models:/churn/2"}
    assert flatten(found["upstream"]) == [
        (0, "produced by", "run"),
        (0, "promoted from", "model_version"),
        (1, "produced by", "run"),
    ]
    [evaluation] = found["downstream"]
    assert (evaluation["kind"], evaluation["edge"]) == ("evaluation", "consumed by")
    assert evaluation["label"].endswith(" on datasets:/holdout/1 (passed)")
    up = cli.json("lineage", f"evaluation:{evaluation['id']}", "--direction", "up")
    assert ("evaluated on", "dataset_version") in [(e["edge"], e["kind"]) for e in up["upstream"]]
    text = cli.run("models", "lineage", "churn/1", "--direction", "down").stdout
    assert text.startswith("models:/churn/1\n")
    assert "promoted to  models:/churn/2" in text
    missing = cli.run("lineage", "models:/churn/9")
    assert missing.exit_code == 1
    [line] = lines(missing.stderr)
    assert line.startswith("error: model version 'churn/9' not found; versions of 'churn': 1")


# -- events and webhooks ---------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.headers["X-Loopml-Event"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_url() -> Iterator[str]:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_events_page_by_cursor_and_webhooks_hear_cli_changes(
    cli: Any, packages: Packages, hook_url: str
) -> None:
    register(cli, packages.good)
    hook = cli.json("models", "webhooks", "add", hook_url, "-e", "alias.set", "-m", "churn")
    assert (hook["url"], hook["events"], hook["has_secret"]) == (hook_url, ["alias.set"], False)
    assert cli.run("models", "alias", "churn", "staging", "1").exit_code == 0
    assert [kind for kind, _ in _Hook.received] == ["alias.set"]
    assert _Hook.received[0][1]["payload"]["alias"] == "staging"
    everything = cli.json("models", "events")
    kinds = [event["kind"] for event in everything]
    assert kinds == ["model.created", "model_version.created", "alias.set"]
    after = cli.json("models", "events", "--after", str(everything[1]["id"]))
    assert [event["kind"] for event in after] == ["alias.set"]
    only = cli.json("models", "events", "-e", "model.created")
    assert [event["kind"] for event in only] == ["model.created"]
    assert cli.run("models", "events", "-e", "nonsense").exit_code == 2
    text = cli.run("models", "events", "--limit", "2").stdout
    assert f"next: loopml models events --after {everything[1]['id']}" in text
    [listed] = cli.json("models", "webhooks", "list")
    assert listed["cursor"] == everything[-1]["id"]
    assert cli.run("models", "webhooks", "remove", hook["id"]).exit_code == 0
    assert cli.json("models", "webhooks", "list") == []
    assert cli.run("models", "webhooks", "add", "ftp://example.com").exit_code == 2


# -- help ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["list"], ["show"], ["register"], ["alias"], ["archive"], ["history"], ["promote"],
        ["approve"], ["reject"], ["evaluate"], ["card"], ["lineage"], ["events"],
        ["policy", "show"], ["policy", "set"], ["roles", "grant"], ["roles", "revoke"],
        ["roles", "list"], ["webhooks", "add"], ["webhooks", "list"], ["webhooks", "remove"],
    ],
)  # fmt: skip
def test_every_models_command_explains_itself_with_an_example(cli: Any, command: list[str]) -> None:
    result = cli.run("models", *command, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "loopml models " + command[0] in result.stdout


def test_models_list_pages_with_limit_and_page_token(cli: Any, packages: Packages) -> None:
    for name in ("fraud", "churn", "upsell"):
        register(cli, packages.good, name)
    first = cli.json("models", "list", "--limit", "2")
    assert [row["name"] for row in first["items"]] == ["churn", "fraud"]
    register(cli, packages.good, "attrition")  # sorts before the token: not on page two
    rest = cli.json("models", "list", "--page-token", first["next_page_token"])
    assert ([row["name"] for row in rest["items"]], rest["next_page_token"]) == (["upsell"], None)
    assert "next page: --page-token " in cli.run("models", "list", "--limit", "1").stdout
    foreign = cli.json("runs", "list", "--limit", "1")["next_page_token"]
    refused = cli.run("models", "list", "--page-token", foreign)
    assert refused.exit_code != 0
    assert "belongs to another listing or ordering" in refused.stderr
