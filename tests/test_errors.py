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
