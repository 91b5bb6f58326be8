"""The one URI parser: every valid form round-trips, every malformed one is refused clearly."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from loopml.errors import InvalidInputError
from loopml.uris import (
    SCHEMES,
    LoopmlURI,
    dataset_uri,
    is_uri,
    model_uri,
    node_uri,
    parse_short,
    parse_uri,
    run_uri,
    strip_scheme,
)

NAME_START = string.ascii_letters + string.digits + "_"
names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(NAME_START),
    st.text(alphabet=NAME_START + ".-", max_size=30),
)
run_ids = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=32)
# Path segments: anything but the separator and line breaks (``.`` in the pattern stops there).
segments = st.text(
    alphabet=st.characters(blacklist_characters="/\n\r", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
)
paths = st.lists(segments, max_size=4).map("/".join)


@st.composite
def uris(draw: st.DrawFn) -> LoopmlURI:
    """Any well-formed :class:`LoopmlURI`, in its canonical form."""
    scheme = draw(st.sampled_from(SCHEMES))
    path = draw(paths)
    if scheme == "runs":
        return LoopmlURI(scheme="runs", name=draw(run_ids), path=path)
    name = draw(names)
    if draw(st.booleans()):
        return LoopmlURI(scheme, name, version=draw(st.integers(0, 10**12)), path=path)
    alias = "latest" if scheme == "datasets" else draw(names)  # datasets have no other alias
    return LoopmlURI(scheme, name, alias=alias, path=path)


@given(uris())
@example(LoopmlURI("models", "churn", alias="production"))
@example(LoopmlURI("runs", "01J0ABC", path="model/model.json"))
def test_str_then_parse_round_trips(uri: LoopmlURI) -> None:
    assert parse_uri(str(uri)) == uri


@given(uris())
def test_parse_then_str_round_trips(uri: LoopmlURI) -> None:
    text = str(uri)

    assert str(parse_uri(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("runs:/01J0ABC", LoopmlURI("runs", "01J0ABC")),
        ("runs:/01J0ABC/model/model.json", LoopmlURI("runs", "01J0ABC", path="model/model.json")),
        ("models:/churn/3", LoopmlURI("models", "churn", version=3)),
        ("models:/churn@production", LoopmlURI("models", "churn", alias="production")),
        (
            "models:/churn.v2-a_b/12/MLmodel",
            LoopmlURI("models", "churn.v2-a_b", 12, path="MLmodel"),
        ),
        ("datasets:/iris/7", LoopmlURI("datasets", "iris", version=7)),
        ("datasets:/iris@latest", LoopmlURI("datasets", "iris", alias="latest")),
    ],
)
def test_parses_every_documented_form(text: str, expected: LoopmlURI) -> None:
    assert parse_uri(text) == expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("models:/churn/3/", "models:/churn/3"), ("models:/churn/007", "models:/churn/7")],
)
def test_equivalent_spellings_normalise(text: str, canonical: str) -> None:
    assert str(parse_uri(text)) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "churn",
        "runs",
        "runs:",
        "runs:/",
        "runs://abc",
        "runs:/ab-c",
        "runs:/ab.c/x",
        "runs/abc",
        "RUNS:/abc",
        " runs:/abc",
        "run:/abc",
        "s3://bucket/key",
        "models:/",
        "models:/churn",
        "models:/churn/",
        "models:/churn/v3",
        "models:/churn/-1",
        "models:/churn/1.5",
        "models:/churn/1@prod",
        "models:/churn@",
        "models:/churn@prod@x",
        "models:/churn@pr od",
        "models:/churn@/x",
        "models:/@prod",
        "models:/-churn/1",
        "models:/.churn/1",
        "models:/ch urn/1",
        "models://churn/1",
        "datasets:/iris",
        "datasets:/iris@",
        "datasets:/iris/x",
    ],
)
def test_malformed_uris_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInputError, match="URI"):
        parse_uri(text)


@pytest.mark.parametrize("text", ["models:/churn/1\n", "runs:/abc\n", "models:/churn/\u0661"])
def test_line_breaks_and_non_ascii_digits_are_invalid(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_uri(text)


def test_error_message_names_the_uri_and_the_expected_form() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_uri("models:/churn")

    message = str(caught.value)
    assert "'models:/churn'" in message
    assert "models:/<name>/<version>" in message
    assert "models:/<name>@<alias>" in message


def test_unknown_scheme_lists_the_known_forms() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_uri("model:/churn/1")

    assert "runs:/" in str(caught.value)
    assert "datasets:/" in str(caught.value)


@given(st.text(max_size=60) | st.builds(str.__add__, st.sampled_from(SCHEMES), st.text()))
def test_any_text_parses_or_is_invalid_input(text: str) -> None:
    try:
        uri = parse_uri(text)
    except InvalidInputError:
        return
    assert uri.scheme in SCHEMES
    assert (uri.version is None) or (uri.alias is None)


@pytest.mark.parametrize("uri", ["runs:/abc/../../x", "runs:/abc/a/..", "models:/m/1/../x"])
def test_dot_dot_in_a_uri_path_is_refused(uri: str) -> None:
    with pytest.raises(InvalidInputError, match=r"'\.\.'"):
        parse_uri(uri)


@pytest.mark.parametrize("text", ["runs:", "models:", "datasets:", "runs:abc", "models:churn/1"])
def test_a_known_scheme_without_its_slash_is_a_malformed_uri(text: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^malformed URI '{text}'; expected "):
        parse_uri(text)


def test_a_non_string_is_invalid_input_not_a_type_error() -> None:
    with pytest.raises(InvalidInputError, match="a loopml URI must be a string, got NoneType None"):
        parse_uri(None)  # type: ignore[arg-type]


def test_a_huge_uri_is_quoted_shortened_with_its_length() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_uri("models:/" + "x" * 100_000 + "/v")
    assert "…' (100010 characters)" in str(caught.value)
    assert len(str(caught.value)) < 500


@given(names, names.filter(lambda alias: alias != "latest"))
@example("iris", "anything")
def test_a_dataset_uri_with_an_alias_other_than_latest_is_refused(name: str, alias: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"datasets have no alias '{alias}'; use @latest"):
        parse_uri(f"datasets:/{name}@{alias}")


def test_builders_write_what_parse_uri_reads_back() -> None:
    assert model_uri("churn", 3) == "models:/churn/3"
    assert model_uri("churn", alias="production") == "models:/churn@production"
    assert run_uri("01J0ABC") == "runs:/01J0ABC"
    assert run_uri("01J0ABC", "/model/") == "runs:/01J0ABC/model"
    assert dataset_uri("iris", 2) == "datasets:/iris/2"
    assert dataset_uri("iris") == "datasets:/iris@latest"
    for uri in ("models:/churn/3", "models:/churn@production", "runs:/01J0ABC/model",
                "datasets:/iris/2", "datasets:/iris@latest"):  # fmt: skip
        assert str(parse_uri(uri)) == uri


def test_a_model_uri_names_a_version_or_an_alias() -> None:
    with pytest.raises(InvalidInputError, match=r"not neither; e\.g\. models:/churn/3"):
        model_uri("churn")
    with pytest.raises(InvalidInputError, match="not both"):
        model_uri("churn", 3, alias="production")


def test_is_uri_looks_at_the_scheme_only() -> None:
    assert is_uri("models:/churn/3")
    assert is_uri("models:/churn/3", "models")
    assert not is_uri("models:/churn/3", "runs")
    assert is_uri("datasets:/iris@latest", "datasets")
    assert not is_uri("churn.pkl")
    assert not is_uri("models:churn")  # no '/' after the scheme
    assert not is_uri(None)
    assert not is_uri(Path("models:/x"))  # a path is a folder, not a URI
    assert is_uri("runs:/01J0/model", ("models", "runs"))
    assert not is_uri("datasets:/iris/2", ("models", "runs"))


def test_node_uri_names_the_nodes_that_have_a_uri() -> None:
    assert node_uri("dataset_version", "iris/2") == "datasets:/iris/2"
    assert node_uri("model_version", "churn.v2/13") == "models:/churn.v2/13"
    assert node_uri("run", "01J0ABC") == "runs:/01J0ABC"
    assert node_uri("step_output", "01J0ABC/model") is None
    assert node_uri("feature_view", "trips") is None


def test_short_forms_parse_as_the_full_uri_and_other_schemes_are_refused() -> None:
    assert parse_short("churn/3", "models") == parse_uri("models:/churn/3")
    assert parse_short("models:/churn@production", "models").alias == "production"
    assert parse_short("iris@latest", "datasets") == parse_uri("datasets:/iris@latest")
    assert parse_short("01J0ABC/model", "runs").path == "model"
    with pytest.raises(InvalidInputError, match="is not a models:/ URI"):
        parse_short("runs:/01J0ABC/model", "models")
    with pytest.raises(InvalidInputError, match=r"'\.\.' in its path"):
        parse_short("01J0ABC/../x", "runs")
    with pytest.raises(InvalidInputError, match="malformed URI"):
        parse_short("churn", "models")  # a bare name is no version
    assert strip_scheme("datasets:/iris", "datasets") == "iris"
    assert strip_scheme("iris", "datasets") == "iris"
    assert strip_scheme("models:/churn/3", "datasets") == "models:/churn/3"
