"""Write a schema as a commented TOML file that reads well and diffs cleanly.

The standard library reads TOML (:mod:`tomllib`) but does not write it, and the schema
needs only tables, strings, numbers, booleans, dates and arrays, so this small writer
saves a dependency. Keys come in a fixed order and columns in the data's order, so
re-inferring a schema changes only the lines whose values changed.

Example:
    >>> toml_key("age"), toml_key("signup date")
    ('age', '"signup date"')
    >>> toml_value(["a", 1, 2.5, True])
    '["a", 1, 2.5, true]'
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.data.schema import ColumnSchema, DataSchema

__all__ = ["render_toml", "schema_to_dict", "toml_key", "toml_value"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_LINE = 88

_HEADER = """\
# loopml data schema. Check data against it with:
#     loopml data validate DATA --schema {path_hint}
# Edit freely; every key is optional except dtype. Violations of severity "error" fail
# validation (exit 1), "warn" ones are only reported.
#
# [table]    min_rows, max_rows, extra_columns (error | warn | ignore),
#            unique_keys (lists of columns unique together), severity
# [drift]    reference (datasets:/name/3 or a file), method (auto | ks | chi2 | psi | js |
#            wasserstein), threshold, columns (empty: all), severity (default "warn"),
#            profile (the sketch of the data the schema was inferred from, beside this
#            file; drift is checked against it when no reference is given)
# [columns.NAME]
#            dtype (int | float | bool | string | categorical | timestamp | date | other),
#            required, nullable, max_null_fraction, min_value, max_value, categories,
#            unique, severity, severities = {{ range = "warn", ... }}, description
"""

_DRIFT_EXAMPLE = """\
# [drift]
# reference = "datasets:/NAME/VERSION"
# method = "auto"
# severity = "warn"
"""


def render_toml(schema: DataSchema, *, path_hint: str = "THIS_FILE") -> str:
    """The whole schema file: the explanatory header, then the settings."""
    data = schema_to_dict(schema)
    parts = [_HEADER.format(path_hint=path_hint)]
    top = [f"format = {data['format']}"]
    if "description" in data:
        top.append(f"description = {toml_value(data['description'])}")
    parts.append("\n".join(top) + "\n")
    parts.append(_section("table", data["table"]))
    parts.append(_section("drift", data["drift"]) if "drift" in data else _DRIFT_EXAMPLE)
    for name, spec in data["columns"].items():
        parts.append(_column_section(name, spec))
    return "\n".join(parts)


def schema_to_dict(schema: DataSchema) -> dict[str, Any]:
    """The file's structure; settings left at their defaults are left out of columns."""
    from loopml.data.schema import FORMAT_VERSION

    data: dict[str, Any] = {"format": FORMAT_VERSION}
    if schema.description:
        data["description"] = schema.description
    table: dict[str, Any] = {}
    for key in ("min_rows", "max_rows"):
        if getattr(schema, key) is not None:
            table[key] = getattr(schema, key)
    table["extra_columns"] = schema.extra_columns
    if schema.unique_keys:
        table["unique_keys"] = [list(key) for key in schema.unique_keys]
    table["severity"] = schema.severity
    data["table"] = table
    if schema.drift is not None:
        drift = schema.drift
        data["drift"] = {
            **({"reference": drift.reference} if drift.reference is not None else {}),
            "method": drift.method,
            **({"threshold": drift.threshold} if drift.threshold is not None else {}),
            **({"columns": list(drift.columns)} if drift.columns else {}),
            "severity": drift.severity,
            **({"profile": drift.profile} if drift.profile is not None else {}),
        }
    data["columns"] = {c.name: _column_dict(c) for c in schema.columns}
    return data


def _column_dict(column: ColumnSchema) -> dict[str, Any]:
    spec: dict[str, Any] = {"dtype": column.dtype}
    if not column.required:
        spec["required"] = False
    spec["nullable"] = column.nullable
    optional = {
        "max_null_fraction": column.max_null_fraction,
        "min_value": column.min_value,
        "max_value": column.max_value,
        "categories": list(column.categories) if column.categories is not None else None,
    }
    spec.update({k: v for k, v in optional.items() if v is not None})
    if column.unique:
        spec["unique"] = True
    if column.severity != "error":
        spec["severity"] = column.severity
    if column.severities:
        spec["severities"] = dict(column.severities)
    if column.description:
        spec["description"] = column.description
    return spec


def _section(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"]
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _column_section(name: str, spec: dict[str, Any]) -> str:
    header = f"columns.{toml_key(name)}"
    plain = {k: v for k, v in spec.items() if k != "severities"}
    text = _section(header, plain)
    if "severities" in spec:
        text += _section(f"{header}.severities", spec["severities"])
    return text


def toml_key(key: str) -> str:
    """``key`` as a TOML key: bare when it can be, quoted otherwise."""
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def toml_value(value: Any) -> str:
    """One value in TOML syntax; long arrays get one item per line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        items = [toml_value(v) for v in value]
        inline = f"[{', '.join(items)}]"
        if len(inline) <= _LINE:
            return inline
        return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _datetime(value: dt.datetime) -> str:
    offset = value.utcoffset()
    if offset is not None and offset % dt.timedelta(minutes=1):  # TOML: whole minutes
        value = value.astimezone(dt.UTC)
    return value.isoformat()
