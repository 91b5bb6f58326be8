"""What serving hands the payload log for a frame: its columns, as one block when it can."""

from __future__ import annotations

import numpy as np
import pandas as pd
import requests
from _serving_models import Identity
from _serving_support import Register, RunServer

from loopml.config import Settings
from loopml.monitoring import PayloadWriter, read_predictions
from loopml.monitoring.payload import ColumnBlock
from loopml.registry import RegistryClient
from loopml.serving import PayloadLogSettings, Routing, TrafficPolicy
from loopml.serving._inputs import frame_columns, logged_inputs, named_outputs
from loopml.serving.app import ServingApp
from loopml.serving.control import load_version
from loopml.serving.runtime import Endpoint


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


def test_a_frame_served_is_read_back_from_the_payload_log_as_sent(
    register: Register, registry: RegistryClient, settings: Settings, run_server: RunServer
) -> None:
    example = pd.DataFrame({"mean radius": [17.99, 20.57], "texture": [10.38, 17.77]})
    register(Identity(), "frames", input_example=example)
    policy = TrafficPolicy.pinned(1)
    targets = {route.target: load_version(registry, "frames", 1) for route in policy.targets()}
    endpoint = Endpoint("frames", Routing(policy, targets, PayloadLogSettings()))
    writer = PayloadWriter(settings, "frames", flush_seconds=3600)
    url = run_server(ServingApp([endpoint], sinks={"frames": writer}))
    sent = [[[1.5, 2.5], [3.5, 4.5]], [[5.5, 6.5]]]
    for index, rows in enumerate(sent):
        body = {"dataframe_split": {"columns": ["mean radius", "texture"], "data": rows}}
        reply = requests.post(f"{url}/invocations", json=body, timeout=10)
        assert reply.status_code == 200, reply.text
        assert reply.json()["predictions"][0]["texture"] == rows[0][1], index
    writer.close(timeout=30)
    assert writer.stats().written == 2
    logged = read_predictions("frames", settings=settings).sort_values(["time_ms", "row"])
    flat = [row for rows in sent for row in rows]
    assert logged["input.mean radius"].tolist() == [row[0] for row in flat]
    assert logged["output.texture"].tolist() == [row[1] for row in flat]
    assert logged["row"].tolist() == [0, 1, 0]
