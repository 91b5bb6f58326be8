"""safe_artifact_path and join_artifact_path: properties and the refused forms."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from loopml.artifacts import join_artifact_path, safe_artifact_path
from loopml.errors import InvalidInputError, UnsafePathError

# Mostly the characters that matter to paths, plus some that do not.
_path_text = st.text(alphabet=st.sampled_from("ab.Z/\\:_- \x00\n\x7fé"), max_size=24)
_safe_name = st.text(alphabet=st.sampled_from("abcXYZ019_-. é"), min_size=1, max_size=8).filter(
    lambda name: name not in (".", "..")
)


def _normalise_or_none(path: str) -> str | None:
    try:
        return safe_artifact_path(path)
    except UnsafePathError:
        return None


@given(_path_text)
@example("../x")
@example("a/../b")
@example("./C:/x")
def test_result_has_no_parent_components_and_no_leading_slash(path: str) -> None:
    result = _normalise_or_none(path)
    if result is None:
        return
    assert ".." not in result.split("/")
    assert not result.startswith("/")
    assert not result.endswith("/")
    assert "\\" not in result
    assert "\x00" not in result
    assert "" not in result.split("/") or result == ""


@given(_path_text)
@example("./a/./b/")
def test_normalising_is_idempotent(path: str) -> None:
    result = _normalise_or_none(path)
    if result is not None:
        assert safe_artifact_path(result) == result


@given(st.lists(_safe_name, max_size=6))
def test_safe_components_survive_unchanged(parts: list[str]) -> None:
    path = "/".join(parts)
    assert safe_artifact_path(path) == path
    assert safe_artifact_path("./" + path) == path
    assert join_artifact_path(*parts) == path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", ""),
        (".", ""),
        ("./", ""),
        ("model.pkl", "model.pkl"),
        ("./model/weights.bin", "model/weights.bin"),
        ("plots/", "plots"),
        ("a/./b", "a/b"),
        ("..hidden/x..y/...", "..hidden/x..y/..."),
        ("with space/ünïcode.txt", "with space/ünïcode.txt"),
    ],
)
def test_accepted_forms(path: str, expected: str) -> None:
    assert safe_artifact_path(path) == expected


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/etc/passwd", "is absolute"),
        ("//server/share", "is absolute"),
        ("..", "'..' component"),
        ("../escape", "'..' component"),
        ("a/../../escape", "'..' component"),
        ("a/..", "'..' component"),
        ("a\\b", "backslash"),
        ("..\\escape", "backslash"),
        ("C:/Windows", "drive letter"),
        ("c:relative", "drive letter"),
        ("a/D:/x", "drive letter"),
        ("a\x00b", "NUL"),
        ("a\nb", "control character"),
        ("tab\there", "control character"),
        ("del\x7f", "control character"),
        ("a//b", "empty component"),
        ("a//", "empty component"),
    ],
)
def test_refused_forms_say_what_is_wrong(path: str, problem: str) -> None:
    with pytest.raises(UnsafePathError, match=re.escape(problem)) as caught:
        safe_artifact_path(path)
    assert isinstance(caught.value, InvalidInputError)
    assert caught.value.details["path"] == path
    assert ";" in caught.value.message  # "…is wrong; what to do"


def test_join_skips_empty_parts_and_checks_each_one() -> None:
    assert join_artifact_path() == ""
    assert join_artifact_path("", "model", "", "./data/", "x.csv") == "model/data/x.csv"
    with pytest.raises(UnsafePathError, match=r"'\.\.' component"):
        join_artifact_path("model", "../../etc")
    with pytest.raises(UnsafePathError, match="is absolute"):
        join_artifact_path("model", "/etc")
