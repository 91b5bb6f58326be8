"""One exception tree for all of loopml.

Every error a user can meet is a ``LoopmlError``. Each class maps once to an HTTP
status and a CLI exit code, and where a builtin fits it is inherited too, so
``except LookupError`` keeps working for code that does not know loopml::

    LoopmlError
    ├── NotFoundError (LookupError)          404, exit 1
    │   └── MissingFileError                 400, exit 2   (an input file or folder is missing)
    ├── ConflictError                        409, exit 1
    ├── InvalidInputError (ValueError)       400, exit 2
    │   ├── UnsafePathError                  400, exit 2
    │   ├── SignatureError                   400, exit 2   (input does not fit a model's signature)
    │   ├── PayloadTooLargeError             413, exit 2   (a request body over a server's limit)
    │   ├── RequestTimeoutError (TimeoutError) 408, exit 2 (a request body not sent in time)
    │   └── MethodNotAllowedError            405, exit 2   (an HTTP route asked the wrong way)
    ├── DigestMismatchError                  500, exit 1   (stored bytes do not match their digest)
    ├── GateFailedError                      422, exit 1
    ├── UntrustedTypesError                  422, exit 1   (a model file names types not trusted)
    ├── PipelineFailedError                  422, exit 1   (a step failed; ``.run_id`` has the run)
    ├── StepTimeoutError (TimeoutError)      500, exit 1   (one attempt of a step ran out of time)
    ├── UnauthorizedError (PermissionError)  401, exit 1
    │   └── ForbiddenError                   403, exit 1   (known caller, role too low)
    ├── StoreError                           503, exit 1   (the database is unreachable)
    ├── UserCodeError                        422, exit 1   (the user's own code raised)
    ├── ModelFailedError                     500, exit 1   (a served model raised predicting)
    ├── DiskFullError (OSError)              507, exit 1   (no room left to write: ENOSPC, EFBIG)
    ├── DeviceUnavailableError               503, exit 1   (no GPU, or no CUDA provider, here)
    └── MissingDependencyError (ImportError) 500, exit 1   (an optional extra is missing)

Messages name the object, the bad value and what to do next.

Example:
    >>> from loopml.errors import NotFoundError
    >>> err = NotFoundError("run", "01J0", hint="list runs with `loopml runs list`")
    >>> str(err)
    "run '01J0' not found; list runs with `loopml runs list`"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "ConflictError",
    "DeviceUnavailableError",
    "DigestMismatchError",
    "DiskFullError",
    "ForbiddenError",
    "GateFailedError",
    "InvalidInputError",
    "LoopmlError",
    "MethodNotAllowedError",
    "MissingDependencyError",
    "MissingFileError",
    "ModelFailedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PipelineFailedError",
    "RequestTimeoutError",
    "SignatureError",
    "StepTimeoutError",
    "StoreError",
    "UnauthorizedError",
    "UnsafePathError",
    "UntrustedTypesError",
    "UserCodeError",
    "close_matches",
    "quote",
]


_MAX_SHOWN = 250  # longer names are shortened in messages and details


class LoopmlError(Exception):
    """Root of every loopml error.

    Attributes:
        code: a short machine-readable name, used in HTTP error bodies and ``--json`` output.
        http_status: the status a server answers with.
        exit_code: the CLI's exit code.
        details: structured data about the failure (safe to serialise as JSON).
    """

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as the HTTP body ``{"error": {...}}`` shape."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class NotFoundError(LoopmlError, LookupError):
    """A named object does not exist.

    Example:
        >>> raise NotFoundError("experiment", "churn", choices=["churn-v2"])  # doctest: +SKIP
        NotFoundError: experiment 'churn' not found; did you mean: churn-v2?
    """

    code = "not_found"
    http_status = 404

    def __init__(
        self,
        kind: str,
        key: str,
        *,
        hint: str | None = None,
        choices: Iterable[str] = (),
    ) -> None:
        self.kind = kind
        self.key = key
        message = f"{kind} {quote(key)} not found"
        suggestions = close_matches(key, choices) if isinstance(key, str) else []
        if suggestions:
            message += f"; did you mean: {', '.join(suggestions)}?"
        if hint:
            message += f"; {hint}"
        shown = key if isinstance(key, str) and len(key) <= _MAX_SHOWN else quote(key)
        super().__init__(message, details={"kind": kind, "key": shown})


class MissingFileError(NotFoundError):
    """A file or folder given as input does not exist: bad input, exit 2 in every command."""

    code = "missing_file"
    http_status = 400
    exit_code = 2


class ConflictError(LoopmlError):
    """The request contradicts what is already stored (a duplicate name, a re-logged param)."""

    code = "conflict"
    http_status = 409


class InvalidInputError(LoopmlError, ValueError):
    """The caller passed a value loopml cannot accept."""

    code = "invalid_input"
    http_status = 400
    exit_code = 2


class UnsafePathError(InvalidInputError):
    """A path would escape the place it must stay in (``..``, absolute, symlink)."""

    code = "unsafe_path"


class SignatureError(InvalidInputError):
    """Input does not fit a model's signature; ``problems`` lists every mismatch at once."""

    code = "signature_mismatch"

    def __init__(self, message: str, *, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(message, details={"problems": problems})


class PayloadTooLargeError(InvalidInputError):
    """A request body over a server's size limit."""

    code = "payload_too_large"
    http_status = 413


class RequestTimeoutError(InvalidInputError, TimeoutError):
    """A request body a client did not finish sending in time."""

    code = "request_timeout"
    http_status = 408


class MethodNotAllowedError(InvalidInputError):
    """An HTTP route asked with the wrong method (``GET`` for an inference call)."""

    code = "method_not_allowed"
    http_status = 405


class DigestMismatchError(LoopmlError):
    """Stored bytes no longer match the digest they were stored under."""

    code = "integrity"
    http_status = 500


class GateFailedError(LoopmlError):
    """A validation gate refused a candidate; ``details`` holds the reasons."""

    code = "gate_failed"
    http_status = 422


class UntrustedTypesError(LoopmlError):
    """A model file would load types nobody trusted; ``types`` names them."""

    code = "untrusted_types"
    http_status = 422

    def __init__(self, message: str, *, types: list[str]) -> None:
        self.types = types
        super().__init__(message, details={"types": types})


class PipelineFailedError(LoopmlError):
    """A pipeline run ended with failed steps; ``run_id`` names it, ``details`` lists them."""

    code = "pipeline_failed"
    http_status = 422

    def __init__(self, message: str, *, run_id: str, details: dict[str, Any] | None = None):
        self.run_id = run_id
        super().__init__(message, details={"run_id": run_id, **(details or {})})


class StepTimeoutError(LoopmlError, TimeoutError):
    """One attempt of a pipeline step ran longer than its ``timeout``."""

    code = "step_timeout"
    http_status = 500


class UnauthorizedError(LoopmlError, PermissionError):
    """The caller is not allowed to do this."""

    code = "unauthorized"
    http_status = 401


class ForbiddenError(UnauthorizedError):
    """The caller is known but its role does not allow this (``details`` names the role
    it holds and the one the action needs)."""

    code = "forbidden"
    http_status = 403


class StoreError(LoopmlError):
    """The metadata database could not be reached or used."""

    code = "store_unavailable"
    http_status = 503


class UserCodeError(LoopmlError):
    """The user's own code (a pipeline, a step, a definitions file) raised an exception.

    ``file`` and ``line`` name the innermost place in the user's file where it happened;
    the original exception is the ``__cause__``.
    """

    code = "user_code"
    http_status = 422

    def __init__(self, message: str, *, file: str, line: int, error: str) -> None:
        self.file = file
        self.line = line
        super().__init__(message, details={"file": file, "line": line, "error": error})


class ModelFailedError(LoopmlError):
    """A served model raised while predicting on input that fit its signature; the
    message names the model and version."""

    code = "model_failed"
    http_status = 500


class DiskFullError(LoopmlError, OSError):
    """A write found no room: the device is full (ENOSPC) or a file size limit was reached
    (EFBIG); the message says how much is free and where."""

    code = "disk_full"
    http_status = 507


class DeviceUnavailableError(LoopmlError):
    """A model was asked to run on a device this machine does not have (``cuda:1``, or a
    GPU without the library's CUDA support); ``details`` names the device and what exists."""

    code = "device_unavailable"
    http_status = 503


class MissingDependencyError(LoopmlError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""

    code = "missing_dependency"

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the '{package}' package; install it with "
            f"`pip install 'loopml[{extra}]'`",
            details={"package": package, "extra": extra},
        )


def quote(value: object, limit: int = _MAX_SHOWN) -> str:
    """``value`` as a message shows it; a long one keeps its start, an ellipsis and its length.

    A string is shown in single quotes, or as its ``repr`` when it holds a control
    character (so a newline or NUL is visible); any other value as its ``repr``.

    Example:
        >>> quote("churn"), quote(None), quote("x" * 100, limit=3)
        ("'churn'", 'None', "'xxx…' (100 characters)")
    """
    plain = isinstance(value, str) and value.isprintable()
    text = str(value) if plain else repr(value)
    if len(text) <= limit:
        return f"'{text}'" if plain else text
    length = len(value) if isinstance(value, str) else len(text)
    start = f"'{text[:limit]}…'" if plain else f"{text[:limit]}…"
    return f"{start} ({length} characters)"


def close_matches(word: str, choices: Iterable[str], limit: int = 3) -> list[str]:
    """Names from ``choices`` that look like ``word``, best first."""
    return difflib.get_close_matches(word, list(choices), n=limit, cutoff=0.6)
