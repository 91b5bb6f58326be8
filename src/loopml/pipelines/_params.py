"""Pipeline parameters from config files and ``--param key=value`` pairs.

Example:
    >>> parse_param_pairs(["alpha=0.5", "name=rf", "layers=[64, 32]"])
    {'alpha': 0.5, 'name': 'rf', 'layers': [64, 32]}
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError, NotFoundError

__all__ = ["load_config", "parse_param_pairs"]


def load_config(path: str | Path) -> dict[str, Any]:
    """The parameters in a TOML, JSON or YAML file (a ``[params]`` table, or the top level)."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError("config file", str(path), hint="pass the path of a .toml/.json/.yaml")
    text = file.read_text()
    suffix = file.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError as err:
                raise InvalidInputError(
                    f"{file} is YAML, which needs PyYAML (`pip install pyyaml`); or use TOML/JSON"
                ) from err
            data = yaml.safe_load(text)
        else:
            raise InvalidInputError(f"{file}: config files must end in .toml, .json or .yaml")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise InvalidInputError(f"{file} is not valid {suffix[1:].upper()}: {err}") from err
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"{file} must hold a table of parameters, not {type(data).__name__}"
        )
    params = data.get("params", data)
    if not isinstance(params, dict):
        raise InvalidInputError(f"{file}: 'params' must be a table of parameters")
    return dict(params)


def parse_param_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """``key=value`` strings to a dict; values are JSON when they parse, else strings."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(f"--param {pair!r} must look like key=value")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params
