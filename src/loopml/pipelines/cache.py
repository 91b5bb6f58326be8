"""Cache keys of steps, and why two keys differ.

A step is skipped only when an earlier successful run of a step had the same key and
its outputs are still stored. The key is the digest of its *parts*:

* ``step``: the function's qualified name;
* ``code``, ``helpers``, ``constants``: the step's source and the project code and
  module constants it reaches (see :mod:`loopml.pipelines._code`);
* ``packages``: the versions of the packages that code uses, Python's and loopml's;
* ``params``: the plain (JSON) arguments;
* ``inputs``: the content digest of every input (upstream outputs, dataset versions);
* ``outputs``: how outputs are named and stored.

The parts are stored with each step run, so ``loopml pipeline explain-cache`` can say
which of them changed.

Example:
    >>> a = {"params": {"alpha": 0.1}, "inputs": {}}
    >>> explain_difference({**a, "params": {"alpha": 0.2}}, a)
    ['param alpha changed: 0.1 -> 0.2']
"""

from __future__ import annotations

from functools import cache
from typing import Any

from loopml.pipelines._canonical import digest_of
from loopml.pipelines._code import code_identity, module_label
from loopml.pipelines.models import StepOptions
from loopml.pipelines.step import Step, qualified_name

__all__ = ["cache_key", "explain_difference", "key_parts"]


def key_parts(
    step: Step[Any, Any], params: dict[str, Any], inputs: dict[str, Any]
) -> dict[str, Any]:
    """Everything the cache key of one call of ``step`` covers."""
    identity = code_identity(step.fn)
    options: StepOptions = step.options
    return {
        "step": f"{_module(step)}.{qualified_name(step.fn)}",
        "code": identity.source,
        "helpers": identity.helpers,
        "constants": identity.constants,
        "packages": {**identity.packages, "loopml": _loopml_version()},
        "params": params,
        "inputs": inputs,
        "outputs": {
            "names": list(options.outputs),
            "materializer": options.materializer,
            "allow_pickle": options.allow_pickle,
        },
    }


def _module(step: Step[Any, Any]) -> str:
    code = getattr(step.fn, "__code__", None)
    return module_label(step.fn.__module__, code.co_filename if code is not None else None)


def cache_key(parts: dict[str, Any]) -> str:
    """The SHA-256 of the canonical JSON of ``parts``."""
    return digest_of(parts)


def explain_difference(now: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """Why the key with parts ``now`` differs from the one with ``before`` (readable)."""
    reasons: list[str] = []
    if now.get("step") != before.get("step"):
        reasons.append(f"function changed: {before.get('step')} -> {now.get('step')}")
    if now.get("code") != before.get("code"):
        reasons.append("the step's source code changed")
    reasons += _dict_changes("helper", now.get("helpers", {}), before.get("helpers", {}), "code")
    reasons += _dict_changes("constant", now.get("constants", {}), before.get("constants", {}))
    reasons += _dict_changes("package", now.get("packages", {}), before.get("packages", {}))
    reasons += _dict_changes("param", now.get("params", {}), before.get("params", {}))
    reasons += _dict_changes("input", now.get("inputs", {}), before.get("inputs", {}), "content")
    if now.get("outputs") != before.get("outputs"):
        reasons.append(f"output settings changed: {before.get('outputs')} -> {now.get('outputs')}")
    return reasons


def _dict_changes(
    what: str, now: dict[str, Any], before: dict[str, Any], opaque: str | None = None
) -> list[str]:
    out = []
    for key in sorted(set(now) | set(before)):
        if key not in before:
            out.append(f"{what} {key} is new")
        elif key not in now:
            out.append(f"{what} {key} is gone")
        elif now[key] != before[key]:
            if opaque is not None:
                out.append(f"{what} {key}: {opaque} changed")
            else:
                out.append(f"{what} {key} changed: {_short(before[key])} -> {_short(now[key])}")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@cache
def _loopml_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("loopml")
    except PackageNotFoundError:  # pragma: no cover - a source checkout
        return "0"
