"""Images and tables as run artifacts: ``log_image``, ``log_table`` and ``load_table``.

An image is a numpy array (``HxW`` grey, ``HxWx3`` RGB, ``HxWx4`` RGBA; ``uint8``, other
integers in 0..255, or floats in [0, 1]) written as PNG by a small encoder here, so
Pillow is not needed; or a PIL image (duck-typed: anything with ``save`` and ``mode``),
saved by Pillow in the format of the file's extension.

A table is a pandas DataFrame (or a dict of columns) stored as Parquet (``.parquet``:
exact types and index) or JSON (``.json``: pandas' ``orient="table"``, which keeps the
column types JSON can name; datetimes come back at nanosecond resolution).

Example:
    >>> png = encode_png(numpy.zeros((2, 3), dtype="uint8"))  # doctest: +SKIP
    >>> png[:8]  # doctest: +SKIP
    b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["encode_png", "image_bytes", "read_table", "table_bytes"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)
_PIL_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "bmp": "BMP"}
_PIL_FORMATS |= {"tif": "TIFF", "tiff": "TIFF", "webp": "WEBP"}
TABLE_SUFFIXES = (".parquet", ".json")


def _suffix(artifact_path: str) -> str:
    if not isinstance(artifact_path, str) or not artifact_path:
        raise InvalidInputError(f"artifact_path must name a file, got {artifact_path!r}")
    return PurePosixPath(artifact_path).suffix.lower()


# -- images ---------------------------------------------------------------------------------


def image_bytes(image: Any, artifact_path: str) -> bytes:
    """The file content of ``image`` for ``artifact_path`` (see the module docstring).

    Raises:
        InvalidInputError: the image is not an array or PIL image, has the wrong shape,
            type or range, or the extension does not fit.
    """
    suffix = _suffix(artifact_path)
    if hasattr(image, "save") and hasattr(image, "mode") and hasattr(image, "size"):
        fmt = _PIL_FORMATS.get(suffix.lstrip("."))
        if fmt is None:
            raise InvalidInputError(
                f"cannot tell the image format of '{artifact_path}'; end it with one of "
                f"{', '.join('.' + s for s in sorted(_PIL_FORMATS))}"
            )
        buffer = io.BytesIO()
        try:
            image.save(buffer, format=fmt)
        except (OSError, ValueError, KeyError) as err:  # e.g. RGBA cannot be written as JPEG
            raise InvalidInputError(
                f"could not save the {getattr(image, 'mode', '?')} image as {fmt} for "
                f"'{artifact_path}': {err}; convert it first (image.convert('RGB')) or use .png"
            ) from err
        return buffer.getvalue()
    if suffix != ".png":
        raise InvalidInputError(
            f"an array image is written as PNG; name the file .png, not '{artifact_path}' "
            "(other formats need a PIL image)"
        )
    return encode_png(image)


def encode_png(image: Any) -> bytes:
    """A PNG (8 bits per channel, no interlace) of a numpy-like array."""
    import numpy as np

    if not hasattr(image, "__array__") and not isinstance(image, list | tuple):
        raise InvalidInputError(
            f"log_image takes a numpy array (HxW, HxWx3 or HxWx4) or a PIL image, "
            f"got {type(image).__name__}"
        )
    array = np.asarray(image)
    pixels = _to_uint8(array)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, channels = pixels.shape
    rows = np.zeros((height, 1 + width * channels), dtype=np.uint8)  # filter byte 0: none
    rows[:, 1:] = pixels.reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return b"".join(
        [
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            _chunk(b"IEND", b""),
        ]
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _to_uint8(array: Any) -> Any:
    import numpy as np

    shape = tuple(array.shape)
    if array.ndim == 3 and shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and shape[2] not in (3, 4)):
        raise InvalidInputError(
            f"an image array must be HxW (grey), HxWx3 (RGB) or HxWx4 (RGBA); got shape {shape}"
        )
    if shape[0] == 0 or shape[1] == 0:
        raise InvalidInputError(f"an image needs at least one pixel; got shape {shape}")
    if shape[0] > 2**31 - 1 or shape[1] > 2**31 - 1:
        raise InvalidInputError(f"image of shape {shape} is too large for PNG")
    kind = array.dtype.kind
    if kind == "u" and array.dtype.itemsize == 1:
        return np.ascontiguousarray(array)
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise InvalidInputError(
                f"integer image values must be in 0..255, got {low}..{high} "
                f"({array.dtype}); scale them, or pass floats in [0, 1]"
            )
        return array.astype(np.uint8)
    if kind == "f":
        if not np.isfinite(array).all():
            raise InvalidInputError("a float image has NaN or infinite values; replace them")
        smallest, largest = float(array.min()), float(array.max())
        if smallest < 0.0 or largest > 1.0:
            raise InvalidInputError(
                f"float image values must be in [0, 1], got [{smallest:g}, {largest:g}]; divide by "
                "255 (or convert to uint8) first"
            )
        return np.rint(array * 255.0).astype(np.uint8)
    raise InvalidInputError(
        f"an image array must hold uint8 (0..255) or floats in [0, 1]; got dtype {array.dtype}"
    )


# -- tables ---------------------------------------------------------------------------------


def table_bytes(table: Any, artifact_path: str) -> bytes:
    """The file content of ``table`` for ``artifact_path`` (``.parquet`` or ``.json``)."""
    import pandas as pd

    suffix = _suffix(artifact_path)
    if suffix not in TABLE_SUFFIXES:
        raise InvalidInputError(
            f"log_table writes .parquet or .json files; cannot tell the format of '{artifact_path}'"
        )
    if isinstance(table, dict):
        try:
            table = pd.DataFrame(table)
        except (TypeError, ValueError) as err:
            raise InvalidInputError(f"log_table could not make a table of the dict: {err}") from err
    if not isinstance(table, pd.DataFrame):
        raise InvalidInputError(
            f"log_table takes a pandas DataFrame or a dict of columns, got {type(table).__name__}"
        )
    _check_columns(table)
    buffer = io.BytesIO()
    try:
        if suffix == ".parquet":
            table.to_parquet(buffer)
        else:
            default_index = isinstance(table.index, pd.RangeIndex) and table.index.start == 0
            text = table.to_json(orient="table", index=not default_index)
            buffer.write(text.encode("utf-8"))
    except (TypeError, ValueError, ImportError) as err:  # pyarrow's errors are ValueErrors
        raise InvalidInputError(
            f"log_table could not write the table as {suffix}: {err}; try the other format"
        ) from err
    return buffer.getvalue()


def _check_columns(table: pd.DataFrame) -> None:
    names = list(table.columns)
    bad = [name for name in names if not isinstance(name, str)]
    if bad:
        raise InvalidInputError(
            f"log_table needs string column names, got {bad[0]!r} ({type(bad[0]).__name__}); "
            "rename them, e.g. df.columns = df.columns.map(str)"
        )
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise InvalidInputError(f"log_table needs unique column names; repeated: {duplicated}")


def read_table(data: bytes, artifact_path: str) -> pd.DataFrame:
    """The DataFrame stored by :func:`table_bytes` in ``artifact_path``."""
    import pandas as pd

    suffix = _suffix(artifact_path)
    try:
        if suffix == ".parquet":
            return pd.read_parquet(io.BytesIO(data))
        if suffix == ".json":
            return pd.read_json(io.StringIO(data.decode("utf-8")), orient="table")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise InvalidInputError(
            f"'{artifact_path}' is not a table as log_table writes it ({err}); read other "
            "files with the run's artifacts"
        ) from err
    raise InvalidInputError(
        f"load_table reads .parquet or .json tables (as log_table writes them); "
        f"'{artifact_path}' is neither"
    )
