"""The shared error helpers: long values are quoted shortened, once, for every component."""

from __future__ import annotations

import pytest

from loopml.errors import DiskFullError, InvalidInputError, LoopmlError, NotFoundError, quote

HUGE = "n" * 100_000


def test_quote_keeps_the_start_an_ellipsis_and_the_length() -> None:
    assert quote("churn") == "'churn'"
    assert quote(HUGE, limit=5) == "'nnnnn…' (100000 characters)"
    assert quote("two\nlines") == "'two\\nlines'"  # control characters made visible
    assert quote(None) == "None"
    assert quote(5) == "5"
    numbers = list(range(100_000))
    assert quote(numbers, limit=10) == f"[0, 1, 2, … ({len(repr(numbers))} characters)"


def test_not_found_quotes_a_huge_key_shortened_and_accepts_any_key() -> None:
    message = str(NotFoundError("run", HUGE, choices=["a"]))
    assert message.startswith("run 'nnnn")
    assert message.endswith("…' (100000 characters) not found")
    assert len(message) < 400
    assert str(NotFoundError("run", None)) == "run None not found"  # type: ignore[arg-type]


def test_disk_full_is_a_loopml_error_with_its_own_code() -> None:
    err = DiskFullError("disk full: 0 bytes free on /x")
    assert isinstance(err, LoopmlError)
    assert err.to_dict()["error"]["code"] == "disk_full"
    assert err.exit_code == 1


@pytest.mark.parametrize(
    "call",
    [
        "from loopml.data._targets import check_name; check_name(name)",
        "from loopml.registry._records import check_model_name; check_model_name(name)",
        "from loopml.features import Entity; Entity(name + ' ')",
        "from loopml.uris import parse_uri; parse_uri('models:/' + name)",
    ],
)
def test_every_component_quotes_a_huge_name_shortened(call: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        exec(call, {"name": HUGE})
    message = str(caught.value)
    assert "…' (10000" in message
    assert len(message) < 600, message[:300]


def test_the_tree_docstring_draws_every_exported_error_with_its_status_and_exit_code() -> None:
    import re

    import loopml.errors as errors

    classes = [
        value
        for name in errors.__all__
        if isinstance(value := getattr(errors, name), type) and issubclass(value, LoopmlError)
    ]
    drawn = {
        match["name"]: (int(match["status"]), int(match["exit"]))
        for match in re.finditer(
            r"── (?P<name>\w+)(?: \(\w+\))?\s+(?P<status>\d{3}), exit (?P<exit>\d)",
            errors.__doc__ or "",
        )
    }
    for cls in classes:
        if cls is LoopmlError:
            continue
        assert drawn.get(cls.__name__) == (cls.http_status, cls.exit_code), cls.__name__


def test_a_step_timeout_is_a_loopml_error_and_a_timeout() -> None:
    from loopml.errors import StepTimeoutError

    err = StepTimeoutError("step 'sleepy' ran longer than its timeout of 0.5s")
    assert isinstance(err, LoopmlError)
    assert isinstance(err, TimeoutError)
    assert err.to_dict()["error"]["code"] == "step_timeout"
