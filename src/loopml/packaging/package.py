"""Model packages: a folder holding a model and everything needed to trust and run it.

::

    model.json           manifest: flavor, signature, requirements, every file's digest
    model.skops | model.txt | model.ubj | model.pt2 | model.onnx | pyfunc/…
    input_example.json   up to 5 rows, given back as the type they came in
    requirements.txt     the pinned requirements, one per line
    code/…               (pyfunc) the class's project source file

``model.json``'s own SHA-256 is the package digest the registry stores; since it lists
the digest of every other file, it names the whole package. :func:`verify_package`
checks a folder against it before anything is loaded.

Example:
    >>> from sklearn.linear_model import LinearRegression
    >>> import numpy as np, tempfile, pathlib
    >>> x = np.arange(6.0).reshape(3, 2)
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "pkg"
    >>> manifest = save_package(LinearRegression().fit(x, [1, 2, 3]), folder, input_example=x)
    >>> manifest.flavor, manifest.signature.to_dict()["inputs"]["shape"]
    ('sklearn', [-1, 2])
    >>> verify_package(folder, manifest.digest).files == manifest.files
    True
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from loopml.clock import now_ms
from loopml.errors import DigestMismatchError, InvalidInputError
from loopml.packaging._digests import file_digests, verify_files
from loopml.packaging._example import encode_example, prepare_example
from loopml.packaging._manifest import FORMAT, PackageManifest
from loopml.packaging._pins import pin_requirements, requirement_drift
from loopml.packaging._tables import is_frame
from loopml.packaging.flavors import Flavor, flavor_for, get_flavor
from loopml.packaging.signature import ColumnSpec, Signature, infer_signature

__all__ = [
    "EXAMPLE",
    "FORMAT",
    "MANIFEST",
    "REQUIREMENTS",
    "PackageManifest",
    "read_manifest",
    "requirement_drift",
    "save_package",
    "verify_package",
]

EXAMPLE = "input_example.json"
MANIFEST = "model.json"
REQUIREMENTS = "requirements.txt"


def save_package(
    model: Any,
    folder: str | Path,
    *,
    input_example: Any = None,
    signature: Signature | Mapping[str, Any] | None = None,
    flavor: str | Flavor | None = None,
    requirements: Sequence[str] | None = None,
    source_run: str | None = None,
) -> PackageManifest:
    """Write ``model`` as a package into ``folder`` (new or empty).

    Args:
        model: the fitted model.
        folder: where to write; created if missing, refused if not empty.
        input_example: a few rows of input (DataFrame, array, dict of arrays); the first
            5 are kept. The signature is inferred from it, outputs from predicting on it.
        signature: the signature, when it should not be inferred.
        flavor: a flavor name or object; default: chosen by the model's type.
        requirements: extra requirement lines (``"pkg==1.2"``, or a bare installed name).
        source_run: the run the model was logged in.

    Raises:
        InvalidInputError: the folder is not empty, no flavor fits, the example is
            unusable or the model fails to predict on it.

    Example:
        >>> save_package(model, "out/churn", input_example=x_train[:5])  # doctest: +SKIP
    """
    root = Path(folder)
    created = _prepare_folder(root)
    try:
        return _write(root, model, input_example, signature, flavor, requirements, source_run)
    except BaseException:
        if created:
            shutil.rmtree(root, ignore_errors=True)
        else:
            for child in root.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def read_manifest(folder: str | Path) -> PackageManifest:
    """The manifest of the package in ``folder`` (files not checked; see verify_package).

    Raises:
        InvalidInputError: ``folder`` holds no readable ``model.json``.

    Example:
        >>> read_manifest("out/churn").requirements  # doctest: +SKIP
        ('scikit-learn==1.9.1', 'skops==0.16.0', 'scipy==1.17.1', 'numpy==2.4.6', ...)
    """
    path = Path(folder) / MANIFEST
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise InvalidInputError(
            f"{folder} is not a model package: it has no {MANIFEST}; write one with "
            "loopml.log_model or save_package"
        ) from err
    try:
        body = json.loads(data)
    except ValueError as err:
        raise InvalidInputError(f"{path} is not valid JSON ({err}); re-log the model") from err
    manifest = PackageManifest.from_dict(body, digest=hashlib.sha256(data).hexdigest())
    return replace(manifest, size_bytes=len(data) + _sizes(manifest))


def verify_package(
    folder: str | Path, expected_manifest_digest: str | None = None
) -> PackageManifest:
    """The manifest, once every file in ``folder`` matches it (and it matches the digest).

    Raises:
        DigestMismatchError: a file changed, is missing or was added, or ``model.json`` is
            not the one the registry or run recorded; the message names every file.

    Example:
        >>> verify_package("out/churn", version.package_digest)  # doctest: +SKIP
        PackageManifest(flavor='sklearn', ...)
    """
    manifest = read_manifest(folder)
    problems: list[str] = []
    expected = expected_manifest_digest
    if expected is not None and manifest.digest != expected:
        problems.append(
            f"file {MANIFEST} changed after it was logged "
            f"(sha256 {manifest.digest[:12]}… != {expected[:12]}…)"
        )
    problems += verify_files(Path(folder), manifest.files, skip=MANIFEST)
    if problems:
        raise DigestMismatchError(
            f"model package {folder} failed verification: {'; '.join(problems)}; re-log the "
            "model (or fetch it again)",
            details={"folder": str(folder), "problems": problems},
        )
    return manifest


def _prepare_folder(root: Path) -> bool:
    if root.exists():
        if not root.is_dir() or any(root.iterdir()):
            raise InvalidInputError(f"{root} is not an empty folder; give a new folder to save in")
        return False
    root.mkdir(parents=True)
    return True


def _write(
    root: Path,
    model: Any,
    input_example: Any,
    signature: Signature | Mapping[str, Any] | None,
    flavor: str | Flavor | None,
    requirements: Sequence[str] | None,
    source_run: str | None,
) -> PackageManifest:
    chosen, flavor_name = _resolve_flavor(model, flavor)
    example = None if input_example is None else prepare_example(input_example)
    if example is not None:
        (root / EXAMPLE).write_text(json.dumps(encode_example(example), allow_nan=False))
    options = chosen.save(model, root)
    predictor = getattr(chosen, "wrap", lambda m: m)(model)
    if isinstance(signature, Mapping):
        signature = Signature.from_dict(signature)
    if signature is None and example is not None:
        signature = _infer(example, _predict(predictor, example))
    pins = pin_requirements(_distributions(chosen, model, example, signature), requirements)
    (root / REQUIREMENTS).write_text("".join(f"{line}\n" for line in pins))
    manifest = PackageManifest(
        flavor=flavor_name,
        flavor_options=options,
        model_class=f"{type(model).__module__}.{type(model).__qualname__}",
        signature=signature,
        input_example=EXAMPLE if example is not None else None,
        requirements=tuple(pins),
        python_version=platform.python_version(),
        loopml_version=_loopml_version(),
        source_run=source_run,
        created_at=now_ms(),
        predict_proba=callable(getattr(predictor, "predict_proba", None)),
        files=file_digests(root, skip=MANIFEST),
    )
    data = (json.dumps(manifest.to_dict(), indent=2) + "\n").encode()
    (root / MANIFEST).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return replace(manifest, digest=digest, size_bytes=len(data) + _sizes(manifest))


def _loopml_version() -> str:
    # Python imports the root package before any submodule, so it is always there; read
    # it from sys.modules because importing the SDK face would reach up the floors.
    return str(sys.modules["loopml"].__version__)


def _sizes(manifest: PackageManifest) -> int:
    return sum(size for _, size in manifest.files.values())


def _resolve_flavor(model: Any, flavor: str | Flavor | None) -> tuple[Flavor, str]:
    if flavor is None:
        chosen = flavor_for(model)
        return chosen, chosen.name
    if isinstance(flavor, str):
        chosen, name = get_flavor(flavor), flavor
    else:
        chosen = flavor
        cls = type(flavor)
        builtin = cls.__module__.startswith("loopml.packaging.flavors.")
        name = flavor.name if builtin else f"py:{cls.__module__}:{cls.__qualname__}"
    if not chosen.accepts(model):
        raise InvalidInputError(
            f"flavor '{name}' cannot save a {type(model).__qualname__}; leave flavor unset "
            "to choose one by the model's type"
        )
    return chosen, name


def _predict(predictor: Any, example: Any) -> Any:
    try:
        return predictor.predict(example)
    except Exception as err:  # the model's own code: any error means the example is unusable
        raise InvalidInputError(
            f"the model failed to predict on its input example ({type(err).__name__}: {err}); "
            "give an example it accepts, or pass signature= yourself"
        ) from err


def _infer(example: Any, output: Any) -> Signature:
    try:
        return infer_signature(example, output)
    except InvalidInputError:  # an output with no signature form (say, a list of dicts)
        return infer_signature(example)


def _distributions(
    flavor: Flavor, model: Any, example: Any, signature: Signature | None
) -> list[str]:
    names = [*flavor.requirements(model), "numpy"]
    inputs = signature.inputs if signature is not None else None
    if is_frame(example) or (isinstance(inputs, tuple) and isinstance(inputs[0], ColumnSpec)):
        names.append("pandas")
    return [*names, "loopml"]
