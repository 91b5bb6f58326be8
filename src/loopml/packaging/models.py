"""The packaging value objects: what logging a package gives back.

Example:
    >>> info = PackageInfo("runs:/01J0/model", "01J0", "model", "sklearn", None, "ab12", 1024)
    >>> info.uri
    'runs:/01J0/model'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PackageInfo"]


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """What ``log_model`` stored: where the package is and what it says about itself."""

    uri: str  # runs:/<run_id>/<path>
    run_id: str | None
    path: str
    flavor: str
    signature: dict[str, Any] | None
    package_digest: str
    size_bytes: int
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256
