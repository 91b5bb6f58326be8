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

Example:
    >>> s = Settings.load(home="/tmp/lp")
    >>> s.db_url
    'sqlite:////tmp/lp/loopml.db'
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError

__all__ = ["CONFIG_FILE", "Settings"]

CONFIG_FILE = "loopml.toml"
_ENV = {
    "home": "LOOPML_HOME",
    "db_url": "LOOPML_DB_URL",
    "artifacts_url": "LOOPML_ARTIFACTS",
    "metrics_flush_s": "LOOPML_METRICS_FLUSH_S",
    "online_store_url": "LOOPML_ONLINE_STORE",
    "executor": "LOOPML_EXECUTOR",
}


@dataclass(frozen=True)
class Settings:
    """Where loopml keeps its metadata and artifacts."""

    home: Path
    db_url: str
    artifacts_url: str
    metrics_flush_s: float = 0.5
    online_store_url: str = ""
    executor: str = "local"

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Resolve settings; ``overrides`` (non-``None`` values) win over everything."""
        values: dict[str, Any] = {}
        values.update(_from_file())
        values.update({k: os.environ[v] for k, v in _ENV.items() if os.environ.get(v)})
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
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
        )

    @property
    def journal_dir(self) -> Path:
        """Where processes keep their metric journals before ingestion."""
        return self.home / "journal"


def _from_file() -> Mapping[str, Any]:
    named = os.environ.get("LOOPML_CONFIG")
    path = Path(named or CONFIG_FILE)
    if not path.is_file():
        if named:
            raise InvalidInputError(
                f"LOOPML_CONFIG names '{named}', which is not a file; fix the path or unset it"
            )
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InvalidInputError(f"{path} is not valid TOML: {err}; fix or remove it") from err
    table = data.get("loopml", data)
    return {k: v for k, v in table.items() if not isinstance(v, dict)}
