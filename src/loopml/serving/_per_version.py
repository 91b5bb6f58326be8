"""What the app keeps per loaded version: its feature lookup and its batcher.

Both are made on a version's first request and forgotten with it: the tables are keyed
weakly by the :class:`ServedVersion`, so a version swapped out and drained leaves with its
entries. A batcher calls the model through a weak reference for the same reason.

Example:
    >>> extras = PerVersion(features=None)  # doctest: +SKIP
    >>> extras.lookup(served) is None  # no feature store: requests carry every input
    True
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loopml.serving.batching import Batcher, BatchReport, batcher_for
from loopml.serving.policy import Resources
from loopml.serving.runtime import ServedVersion

if TYPE_CHECKING:
    from loopml.features import FeatureStore
    from loopml.serving.lookup import FeatureLookup

__all__ = ["PerVersion"]

log = logging.getLogger("loopml.serving")

ModelCall = Callable[[ServedVersion, Any], Any]


class PerVersion:
    """Feature lookups and batchers, one of each (or none) per loaded version.

    Args:
        features: the feature store lookups read (``None``: no lookup, requests carry
            every input).
        run_model: how a batch reaches a version's model (the app's error-mapping call).
        on_batch: called with ``(endpoint name, report)`` after every batched model call.
    """

    def __init__(
        self,
        features: FeatureStore | None,
        run_model: ModelCall | None = None,
        on_batch: Callable[[str, BatchReport], None] | None = None,
    ) -> None:
        self.features = features
        self.run_model = run_model or (lambda served, inputs: served.loaded.predict(inputs))
        self.on_batch = on_batch
        self._lookups: weakref.WeakKeyDictionary[ServedVersion, FeatureLookup | None] = (
            weakref.WeakKeyDictionary()
        )
        self._batchers: weakref.WeakKeyDictionary[
            ServedVersion, tuple[Resources, Batcher | None]
        ] = weakref.WeakKeyDictionary()

    def lookup(self, served: ServedVersion) -> FeatureLookup | None:
        """The online lookup ``served`` needs (``None``: its inputs come with the request).

        Decided once per version, from the features its training run recorded.
        """
        try:
            return self._lookups[served]
        except KeyError:
            pass
        found: FeatureLookup | None = None
        if self.features is not None:
            from loopml.serving.lookup import FeatureLookup

            found = FeatureLookup.for_model(served.loaded, self.features)
        self._lookups[served] = found
        return found

    def batcher(self, served: ServedVersion, resources: Resources, endpoint: str) -> Batcher | None:
        """The batcher of ``served`` under ``resources`` (``None``: batching is off).

        A change of the deployment's batching settings makes a new batcher; the old one
        answers what it holds and is dropped.
        """
        entry = self._batchers.get(served)
        if entry is not None and entry[0] == resources:
            return entry[1]
        version = weakref.ref(served)
        run_model = self.run_model

        def predict(inputs: Any) -> Any:
            current = version()
            if current is None:  # cannot happen while a request holds the version
                raise RuntimeError(f"{endpoint}: the version was unloaded mid-batch")
            return run_model(current, inputs)

        on_batch = self.on_batch
        batcher = batcher_for(
            predict,
            resources,
            on_batch=None if on_batch is None else (lambda report: on_batch(endpoint, report)),
            name=f"{endpoint} {served.label}",
        )
        self._batchers[served] = (resources, batcher)
        return batcher
