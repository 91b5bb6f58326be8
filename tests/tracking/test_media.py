"""log_image, log_table and load_table: pictures and tables as run artifacts."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import loopml
from loopml.errors import InvalidInputError, NotFoundError


def _decoded(run_id: str, path: str) -> np.ndarray[Any, Any]:
    data = loopml.TrackingClient().run_artifacts.read_bytes(run_id, path)
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (np.arange(12, dtype=np.uint8).reshape(3, 4), np.arange(12).reshape(3, 4)),
        (np.full((2, 3, 3), [10, 200, 255], dtype=np.uint8), np.full((2, 3, 3), [10, 200, 255])),
        (np.full((2, 2, 4), [1, 2, 3, 128], dtype=np.uint8), np.full((2, 2, 4), [1, 2, 3, 128])),
        (np.array([[0.0, 0.5], [1.0, 0.25]]), np.array([[0, 128], [255, 64]])),
        (np.full((2, 2, 1), 7, dtype=np.int64), np.full((2, 2), 7)),
    ],
    ids=["grey-uint8", "rgb", "rgba", "grey-float", "int64-one-channel"],
)
def test_log_image_writes_a_png_that_decodes_to_the_same_pixels(
    image: np.ndarray[Any, Any], expected: np.ndarray[Any, Any]
) -> None:
    with loopml.start_run() as run:
        path = loopml.log_image(image, "plots/picture.png")

    assert path == "plots/picture.png"
    np.testing.assert_array_equal(_decoded(run.id, path), expected)


def test_log_image_takes_a_pil_image_in_the_extensions_format() -> None:
    picture = Image.new("RGB", (5, 4), (1, 2, 3))
    with loopml.start_run() as run:
        run.log_image(picture, "photo.jpg")
        run.log_image(picture, "photo.png")

    client = loopml.TrackingClient()
    photo = client.run_artifacts.read_bytes(run.id, "photo.jpg")
    assert Image.open(io.BytesIO(photo)).format == "JPEG"
    np.testing.assert_array_equal(_decoded(run.id, "photo.png"), np.full((4, 5, 3), [1, 2, 3]))


@pytest.mark.parametrize(
    ("image", "path", "message"),
    [
        (np.zeros((2, 2, 2), dtype=np.uint8), "a.png", r"HxWx4 \(RGBA\); got shape \(2, 2, 2\)"),
        (np.zeros((2,), dtype=np.uint8), "a.png", r"got shape \(2,\)"),
        (np.zeros((0, 3), dtype=np.uint8), "a.png", "at least one pixel"),
        (np.array([[0.0, 1.5]]), "a.png", r"in \[0, 1\], got \[0, 1.5\]"),
        (np.array([[np.nan, 0.5]]), "a.png", "NaN"),
        (np.array([[0, 300]]), "a.png", "0..255, got 0..300"),
        (np.array([[-1, 3]], dtype=np.int8), "a.png", "0..255, got -1..3"),
        (np.array([[True, False]]), "a.png", "dtype bool"),
        (np.array([["a", "b"]]), "a.png", "dtype <U1"),
        (np.zeros((2, 2), dtype=np.uint8), "a.jpg", "name the file .png"),
        ("not an image", "a.png", "got str"),
        (Image.new("L", (1, 1)), "a.xyz", "cannot tell the image format"),
        (Image.new("RGBA", (1, 1)), "a.jpg", r"RGBA image as JPEG.*image\.convert\('RGB'\)"),
    ],
)
def test_log_image_refuses_bad_images_with_a_clear_message(
    image: Any, path: str, message: str
) -> None:
    with loopml.start_run() as run, pytest.raises(InvalidInputError, match=message):
        loopml.log_image(image, path)
    assert loopml.TrackingClient().run_artifacts.list(run.id) == []


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "score": [0.5, np.nan, 1.25],
            "label": ["a", "b", None],
            "ok": [True, False, True],
        }
    )


@pytest.mark.parametrize("path", ["eval/table.parquet", "eval/table.json"])
def test_log_table_reads_back_an_equal_frame(path: str) -> None:
    frame = _frame()
    with loopml.start_run() as run:
        assert loopml.log_table(frame, path) == path
        from_run = run.load_table(path)

    pd.testing.assert_frame_equal(from_run, frame)
    pd.testing.assert_frame_equal(loopml.load_table(run.id, path), frame)
    pd.testing.assert_frame_equal(loopml.load_table(f"runs:/{run.id}/{path}"), frame)
    pd.testing.assert_frame_equal(
        loopml.load_table(f"runs:/{run.id}/eval", "table" + path[10:]), frame
    )


def test_parquet_tables_keep_datetimes_and_the_index() -> None:
    frame = pd.DataFrame(
        {"at": pd.to_datetime(["2024-01-01", "2024-02-01"]), "v": [1, 2]},
        index=pd.Index(["x", "y"], name="key"),
    )
    with loopml.start_run() as run:
        loopml.log_table(frame, "t.parquet")
        loopml.log_table({"a": [1, 2]}, "from-dict.json")

    pd.testing.assert_frame_equal(loopml.load_table(run.id, "t.parquet"), frame)
    pd.testing.assert_frame_equal(
        loopml.load_table(run.id, "from-dict.json"), pd.DataFrame({"a": [1, 2]})
    )


@pytest.mark.parametrize(
    ("table", "path", "message"),
    [
        (_frame(), "t.csv", "writes .parquet or .json"),
        ([1, 2, 3], "t.json", "got list"),
        (pd.DataFrame({0: [1]}), "t.parquet", "string column names, got 0"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "t.json", r"repeated: \['a'\]"),
        ({"a": [1, 2], "b": [1]}, "t.json", "could not make a table"),
    ],
)
def test_log_table_refuses_what_it_cannot_round_trip(table: Any, path: str, message: str) -> None:
    with loopml.start_run(), pytest.raises(InvalidInputError, match=message):
        loopml.log_table(table, path)


def test_load_table_errors_name_what_to_do() -> None:
    with loopml.start_run() as run:
        loopml.log_dict({"a": 1}, "config.json")
        loopml.log_text("x", "notes.txt")

    with pytest.raises(NotFoundError, match=r"missing\.parquet"):
        loopml.load_table(run.id, "missing.parquet")
    with pytest.raises(InvalidInputError, match="not a table as log_table writes it"):
        loopml.load_table(run.id, "config.json")
    with pytest.raises(InvalidInputError, match="neither"):
        loopml.load_table(run.id, "notes.txt")
    with pytest.raises(InvalidInputError, match="name the table file"):
        loopml.load_table(run.id)
    with pytest.raises(InvalidInputError, match="run id or a runs:/ URI"):
        loopml.load_table(None)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="nosuchrun"):
        loopml.load_table("nosuchrun", "t.parquet")


def test_the_tracking_client_logs_and_loads_with_an_explicit_run_id(
    client: loopml.TrackingClient,
) -> None:
    run = client.create_run("media")
    client.log_image(run.id, np.zeros((2, 2), dtype=np.uint8), "black.png")
    client.log_table(run.id, _frame(), "t.parquet")
    client.end_run(run.id)

    pd.testing.assert_frame_equal(client.load_table(run.id, "t.parquet"), _frame())
    assert client.run_artifacts.read_bytes(run.id, "black.png").startswith(b"\x89PNG\r\n\x1a\n")
