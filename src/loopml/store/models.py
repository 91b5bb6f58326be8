"""Value objects the store hands out: a lineage walk's entries, the schema's status.

Example:
    >>> LineageEntry("run", "01J", "produced by").to_dict()
    {'kind': 'run', 'id': '01J', 'edge': 'produced by', 'children': []}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["LineageEntry", "SchemaStatus"]


@dataclass(slots=True)
class LineageEntry:
    """One node met on a lineage walk, with how it relates to its parent and its children.

    ``edge`` reads from the parent (``consumed``, ``produced by``, ``promoted from``…).
    A node met again is listed with ``seen`` and not expanded; one at the depth limit
    that has further edges gets ``more``.
    """

    kind: str
    id: str
    edge: str
    children: list[LineageEntry] = field(default_factory=list)
    seen: bool = False
    more: bool = False

    @property
    def node(self) -> tuple[str, str]:
        return (self.kind, self.id)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: ``seen`` and ``more`` appear only when true."""
        found: dict[str, Any] = {
            "kind": self.kind,
            "id": self.id,
            "edge": self.edge,
            "children": [child.to_dict() for child in self.children],
        }
        if self.seen:
            found["seen"] = True
        if self.more:
            found["more"] = True
        return found


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a metadata database is (password hidden) and which schema revision it holds.

    ``location`` is the file of an SQLite database, ``None`` for a server.
    ``revision`` is ``None`` for an empty database; ``head`` is this loopml's newest.
    """

    url: str
    location: str | None
    revision: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.revision == self.head
