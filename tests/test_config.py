"""Settings precedence: explicit arguments > environment > loopml.toml > defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.config import CONFIG_FILE, Settings
from loopml.errors import InvalidInputError

SOURCES = ("file", "env", "arg")


@pytest.fixture
def no_home_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The isolation fixture sets LOOPML_HOME; these tests need it unset."""
    monkeypatch.delenv("LOOPML_HOME")


def write_config(text: str, path: Path | None = None) -> Path:
    path = path or Path.cwd() / CONFIG_FILE
    path.write_text(text)
    return path


@pytest.mark.usefixtures("no_home_env")
def test_defaults_live_under_dot_loopml_in_the_working_directory() -> None:
    settings = Settings.load()

    home = Path.cwd() / ".loopml"
    assert settings.home == home
    assert settings.db_url == f"sqlite:///{home / 'loopml.db'}"
    assert settings.artifacts_url == str(home / "artifacts")
    assert settings.metrics_flush_s == 0.5
    assert settings.journal_dir == home / "journal"


@pytest.mark.usefixtures("no_home_env")
def test_file_beats_defaults(tmp_path: Path) -> None:
    write_config(f'home = "{tmp_path}/h"\nmetrics_flush_s = 2\n')

    settings = Settings.load()

    assert settings.home == tmp_path / "h"
    assert settings.db_url == f"sqlite:///{tmp_path}/h/loopml.db"  # derived from the home
    assert settings.metrics_flush_s == 2.0


def test_file_may_use_a_loopml_table(tmp_path: Path) -> None:
    write_config(f'[loopml]\ndb_url = "sqlite:///{tmp_path}/t.db"\n[loopml.extra]\nignored = 1\n')

    assert Settings.load().db_url == f"sqlite:///{tmp_path}/t.db"


def test_env_beats_file(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('db_url = "sqlite:///from-file.db"\nartifacts_url = "s3://file/x"\n')
    monkeypatch.setenv("LOOPML_DB_URL", "sqlite:///from-env.db")

    settings = Settings.load()

    assert settings.db_url == "sqlite:///from-env.db"
    assert settings.artifacts_url == "s3://file/x"  # the file still fills what env leaves


def test_args_beat_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOOPML_DB_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("LOOPML_METRICS_FLUSH_S", "3")

    settings = Settings.load(db_url="sqlite:///from-arg.db", home=tmp_path)

    assert settings.db_url == "sqlite:///from-arg.db"
    assert settings.home == tmp_path
    assert settings.metrics_flush_s == 3.0


def test_none_arguments_and_empty_env_fall_through(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('db_url = "sqlite:///from-file.db"\n')
    monkeypatch.setenv("LOOPML_DB_URL", "")

    assert Settings.load(db_url=None).db_url == "sqlite:///from-file.db"


def test_loopml_config_names_another_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_config('db_url = "sqlite:///cwd.db"\n')
    other = write_config('db_url = "sqlite:///other.db"\n', tmp_path / "other.toml")
    monkeypatch.setenv("LOOPML_CONFIG", str(other))

    assert Settings.load().db_url == "sqlite:///other.db"


def test_env_home_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "envhome"))

    assert Settings.load().home == tmp_path / "envhome"


def test_home_expands_the_user_and_becomes_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(Path.cwd()))

    assert Settings.load(home="~/lp").home == Path.cwd() / "lp"
    assert Settings.load(home="rel").home == Path.cwd() / "rel"


def test_bad_toml_is_invalid_input_naming_the_file() -> None:
    path = write_config('db_url = "unterminated\n')

    with pytest.raises(InvalidInputError, match="not valid TOML") as caught:
        Settings.load()

    assert str(path.name) in str(caught.value)


def test_unknown_setting_in_file_is_invalid_input() -> None:
    write_config('db_ulr = "sqlite:///typo.db"\n')

    with pytest.raises(InvalidInputError, match="db_ulr"):
        Settings.load()


def test_unknown_argument_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="colour"):
        Settings.load(colour="blue")


@pytest.mark.parametrize("source", ["env", "file"])
def test_flush_interval_must_be_a_number(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if source == "env":
        monkeypatch.setenv("LOOPML_METRICS_FLUSH_S", "soon")
    else:
        write_config('metrics_flush_s = "soon"\n')

    with pytest.raises(InvalidInputError, match="metrics_flush_s"):
        Settings.load()


@given(st.fixed_dictionaries({}, optional={source: st.just(source) for source in SOURCES}))
def test_the_highest_source_wins(present: dict[str, str]) -> None:
    config = Path.cwd() / CONFIG_FILE
    config.unlink(missing_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LOOPML_DB_URL", raising=False)
        if "file" in present:
            write_config('db_url = "sqlite:///file.db"\n', config)
        if "env" in present:
            patch.setenv("LOOPML_DB_URL", "sqlite:///env.db")
        arg = "sqlite:///arg.db" if "arg" in present else None

        settings = Settings.load(db_url=arg)

    winner = max(present, key=SOURCES.index, default=None)
    expected = f"sqlite:///{winner}.db" if winner else f"sqlite:///{settings.home / 'loopml.db'}"
    assert settings.db_url == expected
    config.unlink(missing_ok=True)
    assert "LOOPML_DB_URL" not in os.environ


def test_a_missing_config_file_named_by_env_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOPML_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(InvalidInputError, match="not a file"):
        Settings.load()
