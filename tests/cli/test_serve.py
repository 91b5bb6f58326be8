"""``loopml serve``: its help, and what it refuses before starting (the server itself is
tested as a subprocess in tests/serving/test_serving_process.py)."""

from __future__ import annotations

from typing import Any


def test_help_explains_specs_routes_and_workers(cli: Any) -> None:
    result = cli.run("serve", "--help")
    assert result.exit_code == 0
    for words in ("models:/NAME@ALIAS", "deployment", "/v2/models/NAME/infer", "--workers"):
        assert words in result.stdout


def test_a_spec_is_required(cli: Any) -> None:
    assert cli.run("serve").exit_code == 2


def test_bad_numbers_are_usage_errors(cli: Any) -> None:
    assert cli.run("serve", "models:/m/1", "--workers", "0").exit_code == 2
    assert cli.run("serve", "models:/m/1", "--port", "70000").exit_code == 2


def test_an_unknown_deployment_fails_with_a_hint(cli: Any) -> None:
    result = cli.run("serve", "churn-api", "--port", "0")
    assert result.exit_code == 1
    assert "deployment 'churn-api' not found" in result.stderr
    assert "loopml deployments create" in result.stderr


def test_something_not_a_model_is_refused(cli: Any) -> None:
    result = cli.run("serve", "datasets:/d/1", "--port", "0")
    assert result.exit_code == 2
    assert "loopml serves registered models" in result.stderr
