"""Settings, resolved as: explicit arguments > environment > ``loopml.toml`` > defaults.

=====================  ==========================  =====================================
setting                environment                 default
=====================  ==========================  =====================================
``home``               ``LOOPML_HOME``             ``./.loopml``
``db_url``             ``LOOPML_DB_URL``           ``sqlite:///<home>/loopml.db``
``artifacts_url``      ``LOOPML_ARTIFACTS``        ``<home>/artifacts``
``metrics_flush_s``    ``LOOPML_METRICS_FLUSH_S``  ``0.5``
``online_store_url``   ``LOOPML_ONLINE_STORE``     ``sqlite:///<home>/online.db``
``executor``           ``LOOPML_EXECUTOR``         ``local`` (pipeline steps in-process)
=====================  ==========================  =====================================

``loopml.toml`` is read from the working directory (or the file named by
``LOOPML_CONFIG``), from its ``[loopml]`` table or from the top level.

Environments (profiles): ``[env.NAME]`` tables of ``loopml.toml`` (``[env.dev]``,
``[env.staging]``, ``[env.prod]``) hold any of the settings above. ``Settings.load(env=NAME)``,
or ``LOOPML_ENV=NAME``, or ``loopml --env NAME``, selects one: its values override the
top-level ones; environment variables and explicit arguments still win over both.

=====================  ==========================  =====================================
helper                 what it gives
=====================  ==========================  =====================================
``Settings.load``      the resolved settings (``env=`` picks a profile; ``.env`` names it)
``environments()``     the profile names in ``loopml.toml``, in file order
=====================  ==========================  =====================================

Example:
    >>> s = Settings.load(home="/tmp/lp")
    >>> s.db_url
    'sqlite:////tmp/lp/loopml.db'
    >>> s.env is None  # no profile selected
    True
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError

__all__ = ["CONFIG_FILE", "ENV_VARIABLE", "Settings", "environments"]

CONFIG_FILE = "loopml.toml"
ENV_VARIABLE = "LOOPML_ENV"
_ENV = {
    "home": "LOOPML_HOME",
    "db_url": "LOOPML_DB_URL",
    "artifacts_url": "LOOPML_ARTIFACTS",
    "metrics_flush_s": "LOOPML_METRICS_FLUSH_S",
    "online_store_url": "LOOPML_ONLINE_STORE",
    "executor": "LOOPML_EXECUTOR",
    "tracking_uri": "LOOPML_TRACKING_URI",
}
_PROFILE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
_ADD_ONE = (
    "add one to loopml.toml as a table: [env.{name}] with its own "
    'db_url = "sqlite:///.loopml-{name}/loopml.db" and artifacts_url = ".loopml-{name}/artifacts"'
)


@dataclass(frozen=True)
class Settings:
    """Where loopml keeps its metadata and artifacts.

    ``env`` is the name of the ``[env.NAME]`` profile these settings came from (``None``
    when no profile was selected).
    """

    home: Path
    db_url: str
    artifacts_url: str
    metrics_flush_s: float = 0.5
    online_store_url: str = ""
    executor: str = "local"
    env: str | None = None
    tracking_uri: str = ""  # a loopml server (http://…): runs are logged there

    @classmethod
    def load(cls, env: str | None = None, **overrides: Any) -> Settings:
        """Resolve settings; ``overrides`` (non-``None`` values) win over everything.

        Args:
            env: the ``[env.NAME]`` profile of ``loopml.toml`` to use (default:
                ``$LOOPML_ENV``; none when that is unset too).
            overrides: setting name -> value; ``None`` values fall through.

        Raises:
            InvalidInputError: an unknown setting or profile, a bad value, a broken file.

        Example:
            >>> Settings.load(home="/tmp/lp").env is None
            True
        """
        chosen = env or os.environ.get(ENV_VARIABLE) or None
        data = _read_file()
        values: dict[str, Any] = {}
        values.update(_plain(data.get("loopml", data)))
        if chosen is not None:
            values.update(_profile(data, chosen, given=env is not None))
        values.update({k: os.environ[v] for k, v in _ENV.items() if os.environ.get(v)})
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(_ENV)
        if unknown:
            raise InvalidInputError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(_ENV)}")
        home = Path(values.get("home", ".loopml")).expanduser().absolute()
        db_url = str(values.get("db_url") or f"sqlite:///{home / 'loopml.db'}")
        artifacts_url = str(values.get("artifacts_url") or home / "artifacts")
        try:
            flush = float(values.get("metrics_flush_s", 0.5))
        except ValueError as err:
            raise InvalidInputError(
                f"metrics_flush_s must be a number of seconds, got {values['metrics_flush_s']!r}"
            ) from err
        online = str(values.get("online_store_url") or f"sqlite:///{home / 'online.db'}")
        return cls(
            home=home,
            db_url=db_url,
            artifacts_url=artifacts_url,
            metrics_flush_s=flush,
            online_store_url=online,
            executor=str(values.get("executor") or "local"),
            env=chosen,
            tracking_uri=str(values.get("tracking_uri") or ""),
        )

    @property
    def journal_dir(self) -> Path:
        """Where processes keep their metric journals before ingestion."""
        return self.home / "journal"


def environments() -> list[str]:
    """The names of the ``[env.NAME]`` profiles in ``loopml.toml``, in file order.

    Raises:
        InvalidInputError: the file is broken, or a profile is not a table.

    Example:
        >>> environments()  # doctest: +SKIP
        ['dev', 'staging', 'prod']
    """
    return list(_profiles(_read_file()))


def _config_path() -> tuple[Path, str | None]:
    named = os.environ.get("LOOPML_CONFIG")
    return Path(named or CONFIG_FILE), named


def _read_file() -> Mapping[str, Any]:
    path, named = _config_path()
    if not path.is_file():
        if named:
            raise InvalidInputError(
                f"LOOPML_CONFIG names '{named}', which is not a file; fix the path or unset it"
            )
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InvalidInputError(f"{path} is not valid TOML: {err}; fix or remove it") from err


def _plain(table: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a table: its values that are not themselves tables."""
    return {k: v for k, v in table.items() if not isinstance(v, dict)}


def _profiles(data: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every ``[env.NAME]`` table (also accepted inside ``[loopml]``: ``[loopml.env.NAME]``)."""
    found: dict[str, Mapping[str, Any]] = {}
    for holder in (data, data.get("loopml")):
        tables = holder.get("env") if isinstance(holder, Mapping) else None
        if tables is None:
            continue
        if not isinstance(tables, dict):
            raise InvalidInputError(
                f"'env' in {_config_path()[0]} must hold tables like [env.dev], got "
                f"{tables!r}; {_ADD_ONE.format(name='dev')}"
            )
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise InvalidInputError(
                    f"environment '{name}' in {_config_path()[0]} must be a table, got "
                    f"{table!r}; {_ADD_ONE.format(name=name)}"
                )
            found[name] = table
    return found


def _profile(data: Mapping[str, Any], name: str, *, given: bool) -> dict[str, Any]:
    """The settings of profile ``name``, or an error listing the profiles there are."""
    if not _PROFILE_NAME.fullmatch(name):
        raise InvalidInputError(
            f"environment name {name!r} is not valid; use a letter then letters, digits, "
            "'_' or '-' (e.g. dev, staging, prod)"
        )
    profiles = _profiles(data)
    if name in profiles:
        table = profiles[name]
        nested = sorted(k for k, v in table.items() if isinstance(v, dict))
        unknown = sorted(set(table) - set(_ENV))
        if nested or unknown:
            raise InvalidInputError(
                f"environment '{name}' in {_config_path()[0]} has unknown setting(s) "
                f"{sorted(nested + unknown)}; known: {sorted(_ENV)}"
            )
        return dict(table)
    path, _ = _config_path()
    source = "" if given else f"{ENV_VARIABLE}={name}: "
    unset = "" if given else f"; or unset {ENV_VARIABLE}"
    if not path.is_file():
        raise InvalidInputError(
            f"{source}environment '{name}' was asked for, but there is no {path} in "
            f"{Path.cwd()}; "
            f"{_ADD_ONE.format(name=name)}{unset}",
            details={"env": name, "environments": []},
        )
    close = difflib.get_close_matches(name, list(profiles), n=1)
    maybe = f" (did you mean '{close[0]}'?)" if close else ""
    listed = ", ".join(profiles) or "none"
    raise InvalidInputError(
        f"{source}no environment '{name}' in {path}{maybe}; environments: {listed}; "
        f"{_ADD_ONE.format(name=name)}{unset}",
        details={"env": name, "environments": list(profiles)},
    )
