"""Environments: ``[env.NAME]`` profiles of loopml.toml, chosen by ``env=`` or LOOPML_ENV."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import CONFIG_FILE, Settings, environments
from loopml.errors import InvalidInputError

PROFILES = """\
[loopml]
home = ".lp"
metrics_flush_s = 2

[env.dev]
db_url = "sqlite:///dev.db"

[env.staging]
db_url = "sqlite:///staging.db"
artifacts_url = "s3://ml-staging/artifacts"
executor = "process"

[env.prod]
home = "/srv/prod"
"""


@pytest.fixture
def profiles(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LOOPML_HOME")  # the isolation fixture's home would win over profiles
    path = Path.cwd() / CONFIG_FILE
    path.write_text(PROFILES)
    return path


@pytest.mark.usefixtures("profiles")
def test_no_env_keeps_the_top_level_values() -> None:
    settings = Settings.load()

    assert settings.env is None
    assert settings.home == Path.cwd() / ".lp"
    assert settings.db_url == f"sqlite:///{Path.cwd() / '.lp' / 'loopml.db'}"
    assert settings.metrics_flush_s == 2.0


@pytest.mark.usefixtures("profiles")
def test_a_profile_overrides_the_top_level_and_keeps_the_rest() -> None:
    settings = Settings.load(env="staging")

    assert settings.env == "staging"
    assert settings.db_url == "sqlite:///staging.db"
    assert settings.artifacts_url == "s3://ml-staging/artifacts"
    assert settings.executor == "process"
    assert settings.home == Path.cwd() / ".lp"  # from [loopml]
    assert settings.metrics_flush_s == 2.0  # from [loopml]


@pytest.mark.usefixtures("profiles")
def test_a_profile_home_moves_what_derives_from_it() -> None:
    settings = Settings.load(env="prod")

    assert settings.home == Path("/srv/prod")
    assert settings.db_url == "sqlite:////srv/prod/loopml.db"
    assert settings.artifacts_url == "/srv/prod/artifacts"


@pytest.mark.usefixtures("profiles")
def test_loopml_env_selects_and_the_argument_beats_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_ENV", "dev")

    assert Settings.load().env == "dev"
    assert Settings.load().db_url == "sqlite:///dev.db"
    assert Settings.load(env="staging").db_url == "sqlite:///staging.db"


@pytest.mark.usefixtures("profiles")
def test_env_variables_and_arguments_still_beat_the_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOOPML_ARTIFACTS", "/from/env")

    settings = Settings.load(env="staging", db_url="sqlite:///arg.db")

    assert settings.artifacts_url == "/from/env"
    assert settings.db_url == "sqlite:///arg.db"
    assert settings.executor == "process"  # nothing overrides it: the profile's


@pytest.mark.usefixtures("profiles")
def test_environments_lists_the_profiles_in_file_order() -> None:
    assert environments() == ["dev", "staging", "prod"]


def test_environments_is_empty_without_a_file() -> None:
    assert environments() == []


def test_profiles_may_also_sit_inside_the_loopml_table(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(CONFIG_FILE).write_text('[loopml]\ndb_url = "sqlite:///top.db"\n'
                                 '[loopml.env.qa]\ndb_url = "sqlite:///qa.db"\n')  # fmt: skip

    assert environments() == ["qa"]
    assert Settings.load(env="qa").db_url == "sqlite:///qa.db"
    assert Settings.load().db_url == "sqlite:///top.db"


@pytest.mark.usefixtures("profiles")
def test_an_unknown_env_lists_the_profiles_and_how_to_add_one() -> None:
    with pytest.raises(InvalidInputError) as caught:
        Settings.load(env="stagign")

    message = str(caught.value)
    assert "no environment 'stagign'" in message
    assert "did you mean 'staging'" in message
    assert "environments: dev, staging, prod" in message
    assert "[env.stagign]" in message
    assert caught.value.details["environments"] == ["dev", "staging", "prod"]


def test_loopml_env_without_a_file_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_ENV", "staging")

    with pytest.raises(InvalidInputError) as caught:
        Settings.load()

    message = str(caught.value)
    assert message.startswith("LOOPML_ENV=staging:")
    assert f"no {CONFIG_FILE}" in message
    assert "unset LOOPML_ENV" in message


def test_loopml_env_with_a_file_but_no_profiles_lists_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path(CONFIG_FILE).write_text('db_url = "sqlite:///x.db"\n')
    monkeypatch.setenv("LOOPML_ENV", "prod")

    with pytest.raises(InvalidInputError, match=r"no environment 'prod'.*environments: none"):
        Settings.load()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[env.dev]\ndb_ulr = "sqlite:///x.db"\n', r"environment 'dev' .* unknown setting.*db_ulr"),
        ("[env.dev.inner]\nx = 1\n", r"environment 'dev' .* unknown setting.*inner"),
        ('env = "dev"\n', r"'env' .* must hold tables"),
        ('[env]\ndev = "x"\n', r"environment 'dev' .* must be a table"),
    ],
)
def test_malformed_profiles_are_invalid_input(text: str, match: str) -> None:
    Path(CONFIG_FILE).write_text(text)

    with pytest.raises(InvalidInputError, match=match):
        Settings.load(env="dev")


@pytest.mark.parametrize("name", ["../prod", "", "1st", "a b"])
def test_bad_env_names_are_refused(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    Path(CONFIG_FILE).write_text(PROFILES)
    if not name:
        monkeypatch.setenv("LOOPML_ENV", "")  # empty: no environment, as for other variables
        assert Settings.load().env is None
        return
    with pytest.raises(InvalidInputError, match=r"environment name .* is not valid"):
        Settings.load(env=name)
