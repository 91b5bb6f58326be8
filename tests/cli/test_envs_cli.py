"""``loopml --env``, ``loopml envs`` and ``loopml models copy`` over two real SQLite stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from loopml.cli import app
from loopml.config import CONFIG_FILE, Settings
from loopml.packaging.package import save_package
from loopml.registry.client import RegistryClient

GATES = [{"expression": "accuracy >= 0.8", "passed": True}]


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def ok_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tables = [
        f'[env.{name}]\ndb_url = "sqlite:///{tmp_path}/{name}.db"\n'
        f'artifacts_url = "{tmp_path}/{name}-artifacts"\n'
        for name in ("dev", "staging")
    ]
    Path(CONFIG_FILE).write_text("\n".join(tables))
    return tmp_path


def _registered(env: str, root: Path, *, evaluated: bool) -> RegistryClient:
    from sklearn.dummy import DummyClassifier

    folder = root / f"pkg-{env}"
    save_package(DummyClassifier().fit([[0.0], [1.0]], [0, 1]), folder)
    client = RegistryClient(Settings.load(env=env))
    version = client.register(folder, "churn")
    if evaluated:
        client.save_evaluation(
            {"model_uri": version.uri, "data": "datasets:/holdout/1", "target": "y",
             "task": "classification", "metrics": {"accuracy": 0.9}, "gates": GATES,
             "passed": True}
        )  # fmt: skip
    return client


def test_env_selects_the_profile_for_every_command(root: Path) -> None:
    _registered("staging", root, evaluated=False)

    assert [m["name"] for m in ok_json("--env", "staging", "models", "list")] == ["churn"]
    assert ok_json("--env", "dev", "models", "list") == []
    by_variable = run("models", "list", "--json", env={"LOOPML_ENV": "staging"})
    assert [m["name"] for m in json.loads(by_variable.stdout)] == ["churn"]


def test_envs_lists_the_profiles_and_marks_the_selected_one(root: Path) -> None:
    listed = ok_json("--env", "staging", "envs")

    assert [(e["env"], e["selected"]) for e in listed] == [("dev", False), ("staging", True)]
    assert listed[0]["db_url"] == f"sqlite:///{root}/dev.db"
    assert listed[1]["artifacts_url"] == f"{root}/staging-artifacts"
    text = run("envs").stdout
    assert "dev" in text
    assert f"{root}/staging.db" in text


def test_envs_without_profiles_says_how_to_add_them() -> None:
    result = run("envs")

    assert result.exit_code == 0
    assert "no environments in loopml.toml" in result.stdout
    assert ok_json("envs") == []


@pytest.mark.usefixtures("root")
def test_an_unknown_env_is_a_usage_error_listing_the_profiles() -> None:
    result = run("--env", "prod", "models", "list")

    assert result.exit_code == 2
    assert "no environment 'prod' in loopml.toml; environments: dev, staging" in result.stderr
    assert "[env.prod]" in result.stderr


def test_models_copy_copies_and_is_idempotent(root: Path) -> None:
    _registered("dev", root, evaluated=True)

    first = ok_json("models", "copy", "churn", "1", "--from", "dev", "--to", "staging",
                    "--reason", "ready")  # fmt: skip
    again = run("--env", "dev", "models", "copy", "churn", "1", "--to", "staging")

    assert first["created"] is True
    assert first["copied_from"] == "dev:models:/churn/1"
    assert (first["env"], first["uri"], first["status"]) == ("staging", "models:/churn/1",
                                                            "validated")  # fmt: skip
    assert again.exit_code == 0, again.stderr
    assert "dev:models:/churn/1 -> staging models:/churn/1 (validated): already copied" in (
        again.stdout
    )
    shown = ok_json("--env", "staging", "models", "show", "churn/1")
    assert shown["tags"]["copied_from"] == "dev:models:/churn/1"


def test_register_and_copy_quiet_print_only_the_version(root: Path) -> None:
    _registered("staging", root, evaluated=False)  # staging: churn/1
    _registered("dev", root, evaluated=True)

    registered = run("--env", "staging", "models", "register", str(root / "pkg-dev"), "churn",
                     "--quiet")  # fmt: skip
    copied = run("models", "copy", "churn", "1", "--from", "dev", "--to", "staging", "-q")

    assert (registered.exit_code, registered.stdout) == (0, "2\n"), registered.stderr
    assert (copied.exit_code, copied.stdout) == (0, "3\n"), copied.stderr
    shown = ok_json("--env", "staging", "models", "show", "churn/3")
    assert shown["tags"]["copied_from"] == "dev:models:/churn/1"


def test_models_copy_refusal_lists_every_reason(root: Path) -> None:
    _registered("dev", root, evaluated=False)

    result = run("models", "copy", "churn", "1", "--from", "dev", "--to", "staging")

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: cannot copy dev:models:/churn/1 to staging:"
    assert len(lines) == 3
    assert "has status 'registered'" in lines[1]
    assert "no evaluation of models:/churn/1 checked any gates" in lines[2]
    assert ok_json("--env", "staging", "models", "list") == []


@pytest.mark.usefixtures("root")
def test_models_copy_needs_a_source_environment() -> None:
    result = run("models", "copy", "churn", "1", "--to", "staging")

    assert result.exit_code == 2
    assert "--from ENV" in result.stderr
    assert "environments: dev, staging" in result.stderr
