"""The Open Inference Protocol (V2) over a real uvicorn, with requests and tritonclient."""

from __future__ import annotations

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from _serving_models import Doubler, Identity
from _serving_support import Register, RunServer

from loopml import __version__
from loopml.config import Settings
from loopml.serving.control import open_endpoint

DATATYPES = {
    "BOOL": np.array([[True, False, True]]),
    "UINT8": np.array([[0, 7, 255]], dtype="uint8"),
    "UINT16": np.array([[0, 7, 65535]], dtype="uint16"),
    "UINT32": np.array([[0, 7, 2**32 - 1]], dtype="uint32"),
    "UINT64": np.array([[0, 7, 2**64 - 1]], dtype="uint64"),
    "INT8": np.array([[-128, 0, 127]], dtype="int8"),
    "INT16": np.array([[-(2**15), 0, 2**15 - 1]], dtype="int16"),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1]], dtype="int32"),
    "INT64": np.array([[-(2**63), 0, 2**63 - 1]], dtype="int64"),
    "FP16": np.array([[0.5, -1.0, 65504.0]], dtype="float16"),
    "FP32": np.array([[0.25, -1.5, 3.0e38]], dtype="float32"),
    "FP64": np.array([[0.1, -1e300, 1e-300]], dtype="float64"),
    "BYTES": np.array([[b"a", "ünï".encode(), b""]], dtype=object),
}


@pytest.fixture
def doubler(register: Register, run_server: RunServer, settings: Settings) -> str:
    register(Doubler(), "doubler", input_example=np.zeros((2, 3), dtype="float32"))
    return run_server([open_endpoint("models:/doubler/1", settings)])


@pytest.fixture
def identity(register: Register, run_server: RunServer, settings: Settings) -> str:
    register(Identity(), "identity")  # no example: no signature, any tensor passes through
    return run_server([open_endpoint("models:/identity/1", settings)])


def test_server_metadata_advertises_binary_tensors_and_health(doubler: str) -> None:
    server = requests.get(f"{doubler}/v2", timeout=10).json()
    assert server == {
        "name": "loopml",
        "version": __version__,
        "extensions": ["binary_tensor_data"],
    }
    live = requests.get(f"{doubler}/v2/health/live", timeout=10)
    ready = requests.get(f"{doubler}/v2/health/ready", timeout=10)
    assert (live.status_code, live.json()) == (200, {"live": True})
    assert (ready.status_code, ready.json()) == (200, {"ready": True})


def test_model_metadata_comes_from_the_signature(doubler: str) -> None:
    for path in ("/v2/models/doubler", "/v2/models/doubler/versions/1"):
        meta = requests.get(doubler + path, timeout=10).json()
        assert meta["name"] == "doubler"
        assert meta["versions"] == ["1"]
        assert meta["platform"] == "loopml_pyfunc"
        assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3]}]
        assert meta["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1, 3]}]
        ready = requests.get(f"{doubler}{path}/ready", timeout=10)
        assert (ready.status_code, ready.json()) == (200, {"name": "doubler", "ready": True})


def test_infer_echoes_the_id_and_names_model_and_version(doubler: str) -> None:
    body = {
        "id": "req-42",
        "inputs": [
            {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [4, 5, 6]]}
        ],
    }
    for path in ("/v2/models/doubler/infer", "/v2/models/doubler/versions/1/infer"):
        reply = requests.post(doubler + path, json=body, timeout=10)
        assert reply.status_code == 200, reply.text
        assert reply.headers["x-request-id"] == "req-42"
        assert reply.json() == {
            "model_name": "doubler",
            "model_version": "1",
            "id": "req-42",
            "outputs": [
                {
                    "name": "predict",
                    "datatype": "FP64",
                    "shape": [2, 3],
                    "data": [2.0, 4.0, 6.0, 8.0, 10.0, 12.0],
                }
            ],
        }


def test_unknown_model_version_or_route_is_404_with_an_error_string(doubler: str) -> None:
    body = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
    for method, path in [
        ("post", "/v2/models/nope/infer"),
        ("get", "/v2/models/nope"),
        ("get", "/v2/models/doubler/versions/7"),
        ("post", "/v2/models/doubler/versions/7/infer"),
        ("get", "/v2/models/doubler/whatever"),
    ]:
        reply = getattr(requests, method)(doubler + path, json=body, timeout=10)
        assert reply.status_code == 404, path
        assert isinstance(reply.json()["error"], str)
    assert "nope" in requests.get(f"{doubler}/v2/models/nope", timeout=10).json()["error"]


def test_requested_outputs_are_checked(doubler: str) -> None:
    body = {
        "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}],
        "outputs": [{"name": "probabilities"}],
    }
    reply = requests.post(f"{doubler}/v2/models/doubler/infer", json=body, timeout=10)
    assert reply.status_code == 400
    assert "probabilities" in reply.json()["error"]
    assert "predict" in reply.json()["error"]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_round_trips_every_datatype(identity: str, binary: bool) -> None:
    client = triton.InferenceServerClient(identity.removeprefix("http://"))
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("identity")
    for datatype, values in DATATYPES.items():
        tensor = triton.InferInput("x", list(values.shape), datatype)
        tensor.set_data_from_numpy(values, binary_data=binary)
        outputs = [triton.InferRequestedOutput("predict", binary_data=binary)]
        result = client.infer("identity", [tensor], outputs=outputs, request_id=f"r-{datatype}")
        got = result.as_numpy("predict")
        assert result.get_response()["id"] == f"r-{datatype}"
        assert result.get_output("predict")["datatype"] == datatype
        if datatype == "BYTES":
            got = np.array([[x if isinstance(x, bytes) else x.encode() for x in got.ravel()]])
        np.testing.assert_array_equal(got, values, err_msg=datatype)
    client.close()


def test_tritonclient_defaults_binary_both_ways(doubler: str) -> None:
    client = triton.InferenceServerClient(doubler.removeprefix("http://"))
    tensor = triton.InferInput("x", [2, 3], "FP32")
    tensor.set_data_from_numpy(np.arange(6, dtype="float32").reshape(2, 3))  # binary default
    result = client.infer("doubler", [tensor])  # no outputs named: all come back binary
    assert result.get_output("predict")["parameters"]["binary_data_size"] == 6 * 8
    np.testing.assert_array_equal(result.as_numpy("predict"), np.arange(6).reshape(2, 3) * 2.0)
    metadata = client.get_model_metadata("doubler")
    assert metadata["inputs"][0]["datatype"] == "FP32"
    client.close()
