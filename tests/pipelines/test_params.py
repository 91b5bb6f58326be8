"""Pipeline parameters are typed by the pipeline function's annotations (``_params``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

import pytest

import loopml
from loopml.errors import InvalidInputError
from loopml.pipelines._params import coerce_params, parse_param_pairs, text_parameters


def train(
    alpha: float,
    depth: int,
    on: bool,
    name: str,
    layers: list[int],
    seed: Optional[int] = None,  # noqa: UP045 - the typing spelling is supported too
    either: Union[int, str] = 0,  # noqa: UP007
    anything: Any = None,
    frame: Path | None = None,
    *rest: float,
    **extra: float,
) -> None: ...


def test_values_are_converted_to_the_annotated_types() -> None:
    given = {
        "alpha": "0.5", "depth": 3.0, "on": "yes", "name": 12, "layers": "[1, 2]",
        "seed": "7", "either": "abc", "anything": "kept", "frame": "a.csv",
    }  # fmt: skip
    assert coerce_params("train", train, given) == {
        "alpha": 0.5, "depth": 3, "on": True, "name": "12", "layers": [1, 2],
        "seed": 7, "either": "abc", "anything": "kept", "frame": "a.csv",
    }  # fmt: skip
    assert coerce_params("train", train, {"seed": None, "either": 5}) == {
        "seed": None, "either": 5,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("alpha", "abc", "parameter alpha='abc' is not a float"),
        ("alpha", True, "parameter alpha=True is not a float"),
        ("depth", 2.5, "parameter depth=2.5 is not an int"),
        ("on", "maybe", "parameter on='maybe' is not a bool"),
        ("name", {"a": 1}, "parameter name={'a': 1} is not a str"),
        ("layers", '["x"]', "parameter layers='[\"x\"]' is not a list[int]"),
        ("seed", "x" * 200, "is not an int or None"),
    ],
)
def test_a_value_that_does_not_convert_is_refused_naming_it(
    name: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidInputError, match="pipeline 'train'") as caught:
        coerce_params("train", train, {name: value})
    assert message in str(caught.value)
    assert len(str(caught.value)) < 300  # a long value is quoted truncated


def test_cli_text_stays_text_for_str_parameters() -> None:
    assert text_parameters(train) == {"name"}
    pairs = ["name=1.10", "alpha=1.10"]
    assert parse_param_pairs(pairs, text={"name"}) == {"name": "1.10", "alpha": 1.1}


@loopml.step
def echo(alpha: float) -> str:
    return type(alpha).__name__


@loopml.pipeline
def typed_alpha(alpha: float = 1.0) -> None:
    echo(alpha)


def test_run_converts_and_refuses_before_anything_runs(settings: Any, tmp_path: Path) -> None:
    config = tmp_path / "params.json"
    config.write_text('{"alpha": 2}')
    run = typed_alpha.run(config=config, settings=settings)
    assert run.load("echo") == "float"
    config.write_text('{"alpha": "abc"}')
    with pytest.raises(InvalidInputError, match=r"alpha='abc' is not a float"):
        typed_alpha.run(config=config, settings=settings)
