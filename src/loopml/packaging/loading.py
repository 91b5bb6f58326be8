"""Loading model packages: from a folder, or from stored files fetched into the cache.

Every load verifies the package first (each file against ``model.json``, and
``model.json`` against the digest the run or registry recorded), then hands the folder
to the package's flavor. The loaded model checks input against its signature before
the model sees it. Loading by URI (``runs:/``, ``models:/``) is
:func:`loopml.registry.loading.load_model`, which finds the stored files first.

Example:
    >>> model = load_package("out/churn")  # doctest: +SKIP
    >>> model.predict(frame)  # doctest: +SKIP
    >>> hasattr(model, "predict_proba")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from loopml.artifacts import ArtifactStore, ManifestEntry
from loopml.config import Settings
from loopml.errors import DigestMismatchError, InvalidInputError, UnsafePathError
from loopml.packaging import stored
from loopml.packaging._example import decode_example
from loopml.packaging._pins import requirement_drift
from loopml.packaging.devices import CPU, check_device
from loopml.packaging.flavors import Predictor, get_flavor
from loopml.packaging.package import PackageManifest, save_package, verify_package
from loopml.packaging.signature import Signature, check_input

__all__ = ["RUNTIMES", "LoadedModel", "Runtime", "load_object", "load_package", "load_stored"]

Runtime = Literal["native", "onnx"]
RUNTIMES: tuple[Runtime, ...] = ("native", "onnx")
"""``native``: the package's flavor (the default); ``onnx``: its ONNX graph in onnxruntime."""
_GPU_FLAVORS = ("torch", "onnx")

log = logging.getLogger("loopml.registry")  # the logger name users already filter on


class LoadedModel:
    """A model loaded from a package.

    Attributes:
        manifest: the package's :class:`~loopml.packaging.package.PackageManifest`.
        signature: its signature (``None`` when it was logged without one).
        flavor: the flavor's name (``"sklearn"``).
        uri: where it came from (``models:/churn/3``, ``runs:/…/model`` or a folder).
        folder: the verified local folder it was loaded from.
        model: what the flavor loaded (the estimator itself for sklearn), or the ONNX
            graph's predictor with ``runtime="onnx"``.
        runtime: ``"native"`` or ``"onnx"``.
        device: where it runs: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    ``predict_proba`` exists only when the model gives class probabilities:
    ``hasattr(loaded, "predict_proba")`` is the check.

    Example:
        >>> loaded = load_package("out/churn")  # doctest: +SKIP
        >>> loaded.predict(loaded.input_example())  # doctest: +SKIP
    """

    def __init__(
        self,
        manifest: PackageManifest,
        model: Predictor,
        *,
        folder: Path,
        uri: str | None,
        runtime: Runtime = "native",
        device: str = CPU,
    ) -> None:
        self.manifest = manifest
        self.runtime = runtime
        self.device = device
        self.signature: Signature | None = manifest.signature
        self.flavor = manifest.flavor
        self.uri = uri
        self.folder = folder
        self.model = model

    def predict(self, data: Any) -> Any:
        """Predictions for ``data``, checked against the signature first.

        Raises:
            SignatureError: ``data`` does not fit the signature; every problem is listed.
        """
        return self.model.predict(self._checked(data))

    def input_example(self) -> Any:
        """The input example the model was logged with (``None`` if there was none)."""
        if self.manifest.input_example is None:
            return None
        return decode_example(json.loads((self.folder / self.manifest.input_example).read_text()))

    def _checked(self, data: Any) -> Any:
        return data if self.signature is None else check_input(self.signature, data)

    if TYPE_CHECKING:

        def predict_proba(self, data: Any) -> Any:
            """Class probabilities (only on models that give them)."""

    else:

        def __getattr__(self, name: str) -> Any:
            if name == "predict_proba":
                raise AttributeError(
                    f"{self.uri or 'this model'} ({self.manifest.model_class}) has no "
                    "predict_proba: its model gives no class probabilities; use predict"
                )
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __repr__(self) -> str:
        extra = "" if self.runtime == "native" else f", runtime={self.runtime!r}"
        extra += "" if self.device == CPU else f", device={self.device!r}"
        return f"LoadedModel(uri={self.uri!r}, flavor={self.flavor!r}{extra})"


class _ProbabilisticModel(LoadedModel):
    """A loaded classifier: it also has ``predict_proba``."""

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities for ``data``, one column per class, checked like predict."""
        model: Any = self.model  # the flavor gave a predictor with predict_proba
        return model.predict_proba(self._checked(data))


def load_package(
    folder: str | Path,
    *,
    trusted: Sequence[str] = (),
    expected_digest: str | None = None,
    uri: str | None = None,
    runtime: Runtime = "native",
    device: str = CPU,
) -> LoadedModel:
    """Verify the package in ``folder`` and load it.

    Args:
        folder: a package folder (see :mod:`loopml.packaging.package`).
        trusted: type names a sklearn package may load beyond scikit-learn, numpy and
            scipy (``["mypkg.MyTransformer"]``), the class of a ``py:`` flavor the
            package names, and a pyfunc class only its packaged code provides; only for
            packages whose author you trust.
        expected_digest: the SHA-256 ``model.json`` must have (from a run or registry).
        uri: how the model is named in messages and on the result.
        runtime: ``"native"`` (the flavor; default) or ``"onnx"``: the ONNX graph
            converted at registration (or the package's own, for the onnx flavor), run
            by onnxruntime and answering like the native model.
        device: ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"``: torch models and ONNX
            graphs only (see :mod:`loopml.packaging.devices`).

    Raises:
        DigestMismatchError: a file does not match the manifest; the message names it.
        DeviceUnavailableError: ``device`` is a GPU this machine (or library) lacks.
        InvalidInputError: an unknown runtime or device, ``runtime="onnx"`` for a package
            without an ONNX graph, or a GPU for a flavor that runs on the CPU only.
        UntrustedTypesError: the package names types or a ``py:`` flavor class that are
            not trusted (the message says what to pass).
        InvalidInputError: its ``py:`` flavor is not a class with every Flavor member
            (nothing of it is built or called).

    Example:
        >>> load_package("out/churn").predict(frame)  # doctest: +SKIP
    """
    check_runtime(runtime, device)
    path = Path(folder)
    manifest = verify_package(path, expected_digest)
    return _load_verified(path, manifest, trusted, uri or str(path), runtime, device)


def load_object(model: Any, folder: str | Path, *, input_example: Any = None) -> LoadedModel:
    """A fitted model object as a loaded package: packaged into ``folder`` (new or empty) as
    :func:`~loopml.packaging.package.save_package` would, but predicting with the object in
    memory, so nothing is read back (no trust decision is needed for its own types).

    The package gives the object what a loaded model has: a signature checking input, the
    package's size and a folder a fresh process can load (the infra check). Nothing is
    stored in the registry.

    Raises:
        InvalidInputError: see :func:`~loopml.packaging.package.save_package` (no flavor
            fits, the model fails to predict on the example).

    Example:
        >>> loaded = load_object(estimator, "tmp/model", input_example=x[:5])  # doctest: +SKIP
        >>> loaded.predict(x)  # doctest: +SKIP
    """
    manifest = save_package(model, folder, input_example=input_example)
    flavor = get_flavor(manifest.flavor)
    predictor: Predictor = getattr(flavor, "wrap", lambda m: m)(model)
    cls = _ProbabilisticModel if manifest.predict_proba else LoadedModel
    return cls(manifest, predictor, folder=Path(folder), uri=None)


def load_stored(
    settings: Settings,
    artifacts: ArtifactStore | stored.TreeSource,
    entries: Sequence[ManifestEntry],
    *,
    uri: str,
    trusted: Sequence[str] = (),
    runtime: Runtime = "native",
    device: str = CPU,
) -> LoadedModel:
    """Load the stored package made of ``entries``, fetched once into the local cache.

    The cached copy is verified on every load; one that fails verification is fetched
    again.

    Args:
        settings: where the cache is (``<home>/cache/packages``).
        artifacts: the store holding the package's blobs (or a server serving them).
        entries: the package's files, paths relative to the package folder.
        uri: how the model is named in messages and on the result.
        trusted, runtime, device: see :func:`load_package`.

    Raises:
        NotFoundError: the package has no ``model.json``.
        DigestMismatchError, UntrustedTypesError, DeviceUnavailableError: see
            :func:`load_package`.
    """
    check_runtime(runtime, device)
    folder, digest = stored.fetch(settings, artifacts, entries)
    try:
        manifest = verify_package(folder, digest)
    except DigestMismatchError as err:
        log.warning("cached copy of %s failed verification, fetching it again: %s", uri, err)
        shutil.rmtree(folder, ignore_errors=True)
        folder, digest = stored.fetch(settings, artifacts, entries)
        manifest = verify_package(folder, digest)
    return _load_verified(folder, manifest, trusted, uri, runtime, device)


def check_runtime(runtime: str, device: str) -> None:
    """Refuse an unknown runtime or a malformed device before anything is fetched.

    Raises:
        InvalidInputError: naming the value and the choices.
    """
    if runtime not in RUNTIMES:
        raise InvalidInputError(
            f"unknown runtime {runtime!r}; runtimes: {', '.join(RUNTIMES)} (native is the "
            "package's own flavor)"
        )
    check_device(device)


def _load_verified(
    folder: Path,
    manifest: PackageManifest,
    trusted: Sequence[str],
    uri: str,
    runtime: Runtime = "native",
    device: str = CPU,
) -> LoadedModel:
    names = (trusted,) if isinstance(trusted, str) else tuple(trusted)
    _warn_about_drift(manifest, uri)
    if runtime == "onnx" and manifest.onnx is not None:
        from loopml.packaging.onnx_runtime import OnnxRuntimePredictor

        _check_onnx_file(manifest, uri)
        model: Any = OnnxRuntimePredictor.load(folder, manifest.onnx, device=device)
    else:
        if runtime == "onnx" and manifest.flavor != "onnx":
            raise InvalidInputError(
                f"{uri} has no ONNX graph ({manifest.flavor} model {manifest.model_class}); "
                "register it with onnx=True (loopml models register --onnx), or load it "
                "with runtime='native'"
            )
        flavor = get_flavor(manifest.flavor, trusted=names)  # a py: class must be trusted
        if device == CPU:
            model = flavor.load(folder, manifest.flavor_options, trusted=names)
        elif manifest.flavor in _GPU_FLAVORS:
            load: Any = flavor.load  # the torch and onnx flavors take a device
            model = load(folder, manifest.flavor_options, trusted=names, device=device)
        else:
            raise InvalidInputError(
                f"{uri} is a {manifest.flavor} model, which runs on the CPU only; load it "
                f"with device='cpu'"
                + (
                    ", or register it with onnx=True and load it with runtime='onnx' to "
                    "run its ONNX graph on the GPU"
                    if manifest.flavor in ("sklearn", "lightgbm", "xgboost")
                    else ""
                )
            )
    probabilistic = manifest.predict_proba and callable(getattr(model, "predict_proba", None))
    cls = _ProbabilisticModel if probabilistic else LoadedModel
    return cls(manifest, model, folder=folder, uri=uri, runtime=runtime, device=device)


def _check_onnx_file(manifest: PackageManifest, uri: str) -> None:
    """The graph ``model.json`` points at must be one of its verified files."""
    assert manifest.onnx is not None
    name = manifest.onnx.get("file")
    if not isinstance(name, str) or name not in manifest.files:
        raise UnsafePathError(
            f"{uri}: model.json's onnx section names {name!r}, which is not one of the "
            "package's verified files; register the model again",
            details={"file": str(name)},
        )


_warned: set[str] = set()


def _warn_about_drift(manifest: PackageManifest, uri: str) -> None:
    """Warn once per package and process when this environment differs from its pins.

    A different version is a warning, not a refusal: most minor upgrades load and predict
    the same, and the infra gate is where a version is proven in a clean process.
    """
    if manifest.digest in _warned:
        return
    _warned.add(manifest.digest)
    missing, differ = requirement_drift(manifest.requirements)
    problems = [f"{line} is not installed" for line in missing] + differ
    if problems:
        log.warning(
            "%s was saved with other package versions than this environment has: %s; "
            "predictions may differ (install its requirements.txt to match)",
            uri,
            "; ".join(problems),
        )
