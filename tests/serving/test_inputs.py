"""What serving hands the payload log for a frame: its columns, as one block when it can."""

from __future__ import annotations

import numpy as np
import pandas as pd

from loopml.monitoring.payload import ColumnBlock
from loopml.serving._inputs import frame_columns, logged_inputs, named_outputs


def test_a_frame_of_one_numeric_dtype_is_handed_over_as_one_block() -> None:
    frame = pd.DataFrame({"mean radius": [17.99, 20.57], "texture": [10.38, 17.77]})
    columns = frame_columns(frame)
    assert isinstance(columns, ColumnBlock)
    assert columns.names == ("mean radius", "texture")
    assert columns["texture"].tolist() == [10.38, 17.77]
    assert isinstance(logged_inputs(frame), ColumnBlock)
    assert named_outputs(None, frame)["mean radius"].tolist() == [17.99, 20.57]


def test_a_frame_of_mixed_dtypes_is_handed_over_column_by_column() -> None:
    frame = pd.DataFrame({"age": [31, 45], "city": ["Oslo", "Lyon"]})
    columns = frame_columns(frame)
    assert not isinstance(columns, ColumnBlock)
    assert columns["age"].tolist() == [31, 45]
    assert list(columns["city"]) == ["Oslo", "Lyon"]
    assert np.asarray(columns["age"]).dtype == np.int64
