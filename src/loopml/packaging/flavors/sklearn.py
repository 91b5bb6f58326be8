"""The sklearn flavor: scikit-learn estimators and pipelines, stored with skops.

skops never unpickles: it rebuilds objects from a schema and refuses any type not
trusted. Types from scikit-learn, numpy and scipy (the libraries this flavor pins) are
trusted automatically; any other type in the file must be named in ``trusted``,
because building it runs its author's code.

Example:
    >>> from sklearn.linear_model import LinearRegression  # doctest: +SKIP
    >>> options = SklearnFlavor().save(LinearRegression().fit(x, y), folder)  # doctest: +SKIP
    >>> SklearnFlavor().load(folder, options, trusted=()).predict(x)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib.abc
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from loopml.errors import UntrustedTypesError
from loopml.packaging.flavors._common import require
from loopml.packaging.flavors.base import Predictor

__all__ = ["TRUSTED_MODULES", "SklearnFlavor"]

FILE = "model.skops"
TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.")


class SklearnFlavor:
    """scikit-learn estimators (anything deriving from ``BaseEstimator``), via skops.

    Example:
        >>> SklearnFlavor().accepts(object())
        False
    """

    name = "sklearn"

    def accepts(self, model: Any) -> bool:
        base = sys.modules.get("sklearn.base")
        return base is not None and isinstance(model, base.BaseEstimator)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        sio = import_skops("saving a scikit-learn model")
        sio.dump(model, folder / FILE)
        return {"file": FILE}

    def load(self, folder: Path, options: dict[str, Any], *, trusted: Sequence[str]) -> Predictor:
        return self.wrap(load_skops(folder / options.get("file", FILE), trusted))

    def wrap(self, model: Any) -> Predictor:
        """The estimator as loading gives it back: a transformer predicts by transforming."""
        return model if callable(getattr(model, "predict", None)) else _Transformer(model)

    def requirements(self, model: Any) -> list[str]:
        return ["scikit-learn", "skops", "scipy"]


def load_skops(path: Path, trusted: Sequence[str]) -> Any:
    """Load a skops file, refusing types outside :data:`TRUSTED_MODULES` and ``trusted``.

    Raises:
        UntrustedTypesError: the file names types nobody trusted; the message lists them.

    Example:
        >>> load_skops(Path("pkg/model.skops"), trusted=["mypkg.Scaler"])  # doctest: +SKIP
        Pipeline(steps=[('scaler', Scaler()), ('forest', RandomForestClassifier())])
    """
    import_skops("loading a scikit-learn model")
    try:  # one pass over the file: audit and build from the same tree
        from zipfile import ZipFile

        from skops.io._audit import get_tree
        from skops.io._utils import read_schema
    except ImportError:  # a skops release moved them: the public two-pass way
        sio = import_skops("loading a scikit-learn model")
        allowed = _allowed(sio.get_untrusted_types(file=path), trusted, path)
        return sio.load(path, trusted=allowed)
    with ZipFile(path, "r") as archive:
        schema, context = read_schema(archive)
        tree = get_tree(schema, context, trusted=None)
        # What skops.io.load does, with its audit (unsafe types minus trusted ones must
        # be empty) done once by _allowed instead of twice: it walks the whole tree.
        _allowed(tree.get_unsafe_set(), trusted, path)
        return tree.construct()


def import_skops(feature: str) -> Any:
    """``skops.io``, imported without listing every scikit-learn estimator.

    Importing skops builds its default trust list from ``sklearn.utils.all_estimators()``,
    which imports every estimator module, and from every numpy and scipy ufunc, each
    looked up across all loaded modules (2-4 s together, and torch, CuPy, Dask or JAX when
    installed): a model server would pay that on every cold start. Both listings are
    skipped during the import, so skops's own default list holds no estimators or ufuncs.
    That loosens nothing: :func:`load_skops` decides trust itself (:data:`TRUSTED_MODULES`
    and ``trusted``) over every type skops does not trust by default, a list that is now
    only longer.
    """
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    with _without_array_api_adapters(), _estimators_unlisted():
        return require("skops.io", "skops", "sklearn", feature)


@contextlib.contextmanager
def _estimators_unlisted() -> Iterator[None]:
    try:
        import sklearn.utils as utils
    except ImportError:  # require() reports the missing extra
        yield
        return
    listed = utils.all_estimators
    utils.all_estimators = lambda *args, **kwargs: []
    finder = _SkipUfuncListing()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        finder.restore()
        utils.all_estimators = listed


class _SkipUfuncListing(importlib.abc.MetaPathFinder):
    """Just before ``skops.io._trusted_types`` runs, its ufunc listing returns nothing."""

    _TARGET = "skops.io._trusted_types"

    def __init__(self) -> None:
        self._patched: tuple[Any, Any] | None = None

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        helpers: Any = sys.modules.get("skops.io._utils")
        if name == self._TARGET and helpers is not None and self._patched is None:
            self._patched = (helpers, helpers.get_public_type_names)
            helpers.get_public_type_names = lambda *args, **kwargs: []
        # None: the regular finders import the module, with the listing skipped

    def restore(self) -> None:
        if self._patched is not None:
            helpers, listing = self._patched
            helpers.get_public_type_names = listing


def all_estimators() -> list[tuple[str, type]]:
    """``sklearn.utils.all_estimators()``, listed without importing torch, CuPy, Dask or JAX.

    The listing walks and imports each package under sklearn, including the array-API
    adapters for other frameworks; with torch installed, that alone costs seconds in
    every fresh process (a CLI call, the infra gate's subprocess, ``loopml.autolog()``).
    The adapters are skipped during the walk only: it ignores packages that fail to
    import, nothing is cached, and code that uses the array API later imports them as usual.
    """
    from sklearn.utils import all_estimators as listed

    with _without_array_api_adapters():
        return list(listed())


@contextlib.contextmanager
def _without_array_api_adapters() -> Iterator[None]:
    skip = _SkipArrayApiAdapters()
    sys.meta_path.insert(0, skip)
    try:
        yield
    finally:
        sys.meta_path.remove(skip)


class _SkipArrayApiAdapters(importlib.abc.MetaPathFinder):
    _PREFIX = "sklearn.externals.array_api_compat."
    _FRAMEWORKS = frozenset({"torch", "cupy", "dask", "jax"})

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.startswith(self._PREFIX) and name[len(self._PREFIX) :] in self._FRAMEWORKS:
            raise ImportError(f"{name} is skipped while scikit-learn's estimators are listed")


def _allowed(untrusted: Any, trusted: Sequence[str], path: Path) -> list[str]:
    found = sorted(untrusted)
    refused = [t for t in found if not t.startswith(TRUSTED_MODULES) and t not in trusted]
    if refused:
        names = ", ".join(f'"{t}"' for t in refused)
        raise UntrustedTypesError(
            f"{path.name} would load types that are not trusted: {', '.join(refused)}; "
            f"building them runs their code. If you trust this file's author, pass "
            f"trusted=[{names}] to load_model (or --trust {' --trust '.join(refused)} "
            "on the CLI)",
            types=refused,
        )
    return found


class _Transformer:
    """A fitted transformer (no ``predict``): predicting is transforming."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def predict(self, data: Any) -> Any:
        return self.estimator.transform(data)
