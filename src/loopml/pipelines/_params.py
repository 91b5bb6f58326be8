"""Pipeline parameters from config files and ``--param key=value`` pairs, typed by the
pipeline function's annotations.

A value given for an annotated parameter (``int``, ``float``, ``bool``, ``str``, ``list``
or ``list[...]``, and ``Optional``/``Union`` of those) is converted to that type, or
refused with an error naming the parameter, the value and the type: ``--param alpha=abc``
never reaches a ``float`` parameter as text. Other annotations are left to the function.

Example:
    >>> parse_param_pairs(["alpha=0.5", "name=rf", "layers=[64, 32]"])
    {'alpha': 0.5, 'name': 'rf', 'layers': [64, 32]}
    >>> def train(alpha: float = 0.1, name: str = "rf") -> None: ...
    >>> coerce_params("train", train, {"alpha": "2", "name": 5})
    {'alpha': 2.0, 'name': '5'}
"""

from __future__ import annotations

import inspect
import json
import numbers
import os
import tomllib
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError, MissingFileError

__all__ = ["coerce_params", "load_config", "parse_param_pairs", "text_parameters"]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def load_config(path: str | Path) -> dict[str, Any]:
    """The parameters in a TOML, JSON or YAML file (a ``[params]`` table, or the top level)."""
    file = Path(path)
    if not file.is_file():
        raise MissingFileError(
            "config file", str(path), hint="pass the path of a .toml/.json/.yaml"
        )
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


def parse_param_pairs(pairs: Iterable[str], text: Collection[str] = ()) -> dict[str, Any]:
    """``key=value`` strings to a dict; values are JSON when they parse, else strings.

    Args:
        pairs: the ``key=value`` strings.
        text: keys whose values stay text as typed (``str`` parameters: ``1.10`` is a
            version, not the number 1.1); see :func:`text_parameters`.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(f"--param {pair!r} must look like key=value")
        if key in text:
            params[key] = raw
            continue
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def text_parameters(fn: Callable[..., Any]) -> set[str]:
    """The names of ``fn``'s parameters annotated exactly ``str``."""
    return {name for name, kind in _annotations(fn).items() if kind is str}


def coerce_params(
    pipeline: str, fn: Callable[..., Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """``values`` converted to the types ``fn``'s parameters are annotated with.

    Raises:
        InvalidInputError: a value cannot be converted; the message names the
            parameter, the value and the expected type.
    """
    hints = _annotations(fn)
    out = dict(values)
    for name, value in values.items():
        kind = hints.get(name)
        if kind is None or not _supported(kind):
            continue
        try:
            out[name] = _convert(value, kind)
        except (TypeError, ValueError) as err:
            raise InvalidInputError(
                f"pipeline '{pipeline}': parameter {name}={_shown(value)} is not "
                f"{_type_name(kind)}; pass a value of that type (--param {name}=…)",
                details={"parameter": name, "value": repr(value), "expected": _type_name(kind)},
            ) from err
    return out


def _annotations(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # a forward reference that does not resolve: use what does
        hints = {
            name: param.annotation
            for name, param in inspect.signature(fn).parameters.items()
            if param.annotation is not inspect.Parameter.empty
            and not isinstance(param.annotation, str)
        }
    plain = {
        name
        for name, param in inspect.signature(fn).parameters.items()
        if param.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }
    return {name: kind for name, kind in hints.items() if name in plain}


def _members(kind: Any) -> tuple[Any, ...] | None:
    """The members of a Union/Optional annotation, or None if it is not one."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return typing.get_args(kind)
    return None


def _supported(kind: Any) -> bool:
    members = _members(kind)
    if members is not None:
        return all(_supported(member) for member in members)
    if kind in (int, float, bool, str, list, type(None)):
        return True
    if typing.get_origin(kind) is list:
        args = typing.get_args(kind)
        return not args or _supported(args[0])
    return False


def _convert(value: Any, kind: Any) -> Any:
    members = _members(kind)
    if members is not None:
        for member in members:  # a value already of a member type stays as it is
            if _is_instance(value, member):
                return value
        for member in members:
            try:
                return _convert(value, member)
            except (TypeError, ValueError):
                continue
        raise ValueError(value)
    if kind is type(None):
        if value is None:
            return None
        raise ValueError(value)
    if typing.get_origin(kind) is list or kind is list:
        return _to_list(value, kind)
    return _SCALARS[kind](value)


def _is_instance(value: Any, kind: Any) -> bool:
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind in (int, float) and isinstance(value, bool):
        return False
    if kind is list or typing.get_origin(kind) is list:
        return False  # its items may still need converting
    return isinstance(value, kind)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise TypeError(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise TypeError(value)


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):  # a number read from a config file or JSON
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)  # type: ignore[no-any-return]
    raise TypeError(value)


_SCALARS: dict[Any, Callable[[Any], Any]] = {
    int: _to_int,
    float: _to_float,
    bool: _to_bool,
    str: _to_str,
}


def _to_list(value: Any, kind: Any) -> list[Any]:
    if isinstance(value, str):
        value = json.loads(value)  # a JSON list given as text
    if not isinstance(value, (list, tuple)):
        raise TypeError(value)
    args = typing.get_args(kind)
    return [_convert(item, args[0]) for item in value] if args else list(value)


def _type_name(kind: Any) -> str:
    members = _members(kind)
    if members is not None:
        names = [_type_name(m) for m in members if m is not type(None)]
        optional = " or None" if type(None) in members else ""
        return " or ".join(names) + optional
    if kind is type(None):
        return "None"
    if kind in (int,):
        return "an int"
    if kind in (float,):
        return "a float"
    if kind is bool:
        return "a bool (true or false)"
    if kind is str:
        return "a str"
    if kind is list:
        return "a list (JSON, e.g. [1, 2])"
    return f"a {kind}".replace("typing.", "")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
