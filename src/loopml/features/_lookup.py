"""Online lookups: entity keys in, decoded values out, with the offline rules applied.

A value is served only when its row is at or before "now" and within the view's TTL
of it, the same rule the offline join applies at an entity row's timestamp, so online
and offline agree. On-demand views then run on the looked-up values through
:meth:`~loopml.features.on_demand.OnDemandFeatureView.compute`, as offline.

Example:
    >>> lookup(plan, online, rows, now_us)  # doctest: +SKIP
    OnlineResponse(columns={'driver_id': [1001], 'trips': [12]})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopml.errors import InvalidInputError, close_matches
from loopml.features._codec import RowCodec, entity_key
from loopml.features._frames import columns_to_arrow
from loopml.features._refs import FeaturePlan, ViewRead
from loopml.features.models import OnlineResponse
from loopml.features.online.base import OnlineStore, StoredRecord

__all__ = ["ViewReader", "lookup"]


class ViewReader:
    """Decodes one view's stored records into the values of the features read."""

    def __init__(self, read: ViewRead) -> None:
        view = read.view
        self.view = view.name
        self.join_keys = view.join_keys
        self.codec = RowCodec([(f.name, f.dtype) for f in view.features])
        self.indices = [view.feature_names.index(f) for f in read.features]
        self.whole = self.indices == list(range(len(view.features)))
        self.ttl_us = None if view.ttl is None else int(view.ttl.total_seconds() * 1_000_000)
        self.empty: tuple[Any, ...] = (None,) * len(self.indices)

    def decode(self, record: StoredRecord | None, now_us: int) -> tuple[Any, ...]:
        """The values of one record, or nulls when absent, expired, future or stale."""
        if record is None:
            return self.empty
        event_ts, payload = record
        if event_ts > now_us or (self.ttl_us is not None and now_us - event_ts > self.ttl_us):
            return self.empty
        values = self.codec.decode(payload)
        if values is None:  # written for another layout of the view: not this version's
            return self.empty
        return values if self.whole else tuple(values[i] for i in self.indices)

    def keys(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """The entity key of each row."""
        try:
            return [entity_key(row, self.join_keys) for row in rows]
        except KeyError as err:
            missing = str(err.args[0])
            index, row = next((i, r) for i, r in enumerate(rows) if missing not in r)
            hint = close_matches(missing, [str(k) for k in row])
            raise InvalidInputError(
                f"entity row {index} has no '{missing}' (feature view '{self.view}' is keyed "
                f"by {', '.join(self.join_keys)})"
                + (f"; did you mean {', '.join(hint)}?" if hint else "")
                + f"; the row has: {', '.join(map(str, row)) or '(nothing)'}",
                details={"row": index, "column": missing},
            ) from None


def lookup(
    plan: FeaturePlan,
    readers: Sequence[ViewReader],
    online: OnlineStore,
    rows: Sequence[Mapping[str, Any]],
    now_us: int,
) -> OnlineResponse:
    """Look up ``plan``'s features for ``rows`` (``readers`` parallel to ``plan.views``)."""
    columns: dict[str, list[Any]] = {key: [row.get(key) for row in rows] for key in plan.join_keys}
    outputs: dict[str, list[Any]] = {}
    inputs: dict[str, list[Any]] = {}
    for read, reader in zip(plan.views, readers, strict=True):
        records = online.read(reader.view, reader.keys(rows))
        decoded = [reader.decode(record, now_us) for record in records]
        for j, feature in enumerate(read.features):
            values = [d[j] for d in decoded]
            inputs[feature] = values
            if feature in read.outputs:
                outputs[read.outputs[feature]] = values
    for od in plan.on_demand:
        for field in od.view.request_fields:
            inputs[field.name] = _request_values(rows, field.name)
        table = columns_to_arrow({name: (dtype, inputs[name]) for name, dtype in od.view.inputs})
        computed = od.view.compute(
            {name: table.column(name).combine_chunks() for name in table.column_names}
        )
        for feature, column in od.outputs.items():
            outputs[column] = computed[feature].tolist()
    columns.update((column, outputs[column]) for column in plan.columns)
    return OnlineResponse(columns)


def _request_values(rows: Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    for index, row in enumerate(rows):
        if name not in row:
            hint = close_matches(name, [str(k) for k in row])
            raise InvalidInputError(
                f"entity row {index} has no '{name}', a request field an on-demand view needs"
                + (f"; did you mean {', '.join(hint)}?" if hint else ""),
                details={"row": index, "column": name},
            )
    return [row[name] for row in rows]
