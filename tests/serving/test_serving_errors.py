"""Bad, hostile and slow input: 4xx listing the problem, never a 5xx; failing models named."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import numpy as np
import pytest
import requests
from _serving_models import Doubler, Exploding
from _serving_support import Register, RunServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from loopml.config import Settings
from loopml.serving.app import ServerLimits, ServingApp
from loopml.serving.control import open_endpoint

FUZZ = hypothesis_settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def url(register: Register, run_server: RunServer, settings: Settings) -> str:
    register(Doubler(), "doubler", input_example=np.zeros((2, 3), dtype="float32"))
    return run_server([open_endpoint("models:/doubler/1", settings)])


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _infer(url: str, *inputs: dict[str, object], **extra: object) -> requests.Response:
    return requests.post(
        f"{url}/v2/models/doubler/infer", json={"inputs": list(inputs), **extra}, timeout=10
    )


def _tensor(
    shape: object, data: object, datatype: str = "FP32", name: str = "x"
) -> dict[str, object]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


@pytest.mark.parametrize(
    ("tensor", "says"),
    [
        (_tensor([-1, 3], [1, 2, 3]), "negative dimension"),
        (_tensor([2, 3], [1, 2, 3, 4, 5]), "holds 6 values, data has 5"),
        (_tensor([10**12, 10**12], [1.0]), "holds 1000000000000000000000000 values"),
        (_tensor([1, 3], [2**63, 0, 0], "INT64"), "outside"),
        (_tensor([1, 3], [1.5, 0, 0], "INT32"), "not whole numbers"),
        (_tensor([1, 3], [1, 2, 3], "FP99"), "unknown datatype"),
        (_tensor([1, 3], [1, 2, 3], "BYTES"), "must be strings"),
        (_tensor([1, 3], ["a", "b", "c"], "BYTES"), "signature"),
        (_tensor([1, 3], [[1, 2], [3]]), "rectangular"),
        (_tensor([1, 2], [1, 2]), "expected shape (?, 3), got (1, 2)"),
        (_tensor("3", [1, 2, 3]), "shape must be a list"),
        (_tensor([1, 3], [True, False, True]), "must be numbers"),
    ],
)
def test_bad_tensors_get_400_saying_what_is_wrong(
    url: str, tensor: dict[str, object], says: str
) -> None:
    reply = _infer(url, tensor)
    assert reply.status_code == 400, reply.text
    assert says in reply.json()["error"]


def test_every_problem_is_listed_at_once(url: str) -> None:
    reply = _infer(url, _tensor([1, 2], [1, 2]), _tensor([1, 3], [1, 2, 3], name="y"))
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert "one tensor, got 2" in error
    assert "expected shape (?, 3)" in error


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"\xff\xfe\x00garbage",
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [NaN]}]}',
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", '
        b'"data": [123456789012345678901234567890]}]}',
        b"[" * 200_000 + b"]" * 200_000,
        b'{"inputs": []}',
        b'{"inputs": [{"name": "x"}]}',
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}',
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}, '
        b'{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}',
        b'{"id": 5, "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", '
        b'"data": [1,2,3]}]}',
    ],
)
def test_malformed_bodies_get_400(url: str, body: bytes) -> None:
    reply = requests.post(f"{url}/v2/models/doubler/infer", data=body, timeout=30)
    assert reply.status_code == 400, reply.text
    assert isinstance(reply.json()["error"], str)


@pytest.mark.parametrize(
    ("header", "body", "says"),
    [
        ("abc", b"{}", "byte count"),
        ("9999", b"{}", "outside the body"),
        ("0", b"{}", "outside the body"),
    ],
)
def test_bad_binary_headers_get_400(url: str, header: str, body: bytes, says: str) -> None:
    reply = requests.post(
        f"{url}/v2/models/doubler/infer",
        data=body,
        headers={"Inference-Header-Content-Length": header},
        timeout=10,
    )
    assert reply.status_code == 400
    assert says in reply.json()["error"]


@pytest.mark.parametrize(
    ("size", "extra", "says"),
    [
        (12, b"", "needs 24 bytes, got 12"),
        (100, b"", "runs past"),
        (24, b"\x00" * 8, "after the binary"),
    ],
)
def test_binary_sizes_must_add_up(url: str, size: int, extra: bytes, says: str) -> None:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [2, 3],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": size},
                }
            ]
        }
    ).encode()
    body = header + np.zeros(6, dtype="<f4").tobytes() + extra
    reply = requests.post(
        f"{url}/v2/models/doubler/infer",
        data=body,
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout=10,
    )
    assert reply.status_code == 400
    assert says in reply.json()["error"]


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
_tensor_like = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["x", "input"]),
        "shape": st.lists(st.integers(-2, 4), max_size=3),
        "datatype": st.sampled_from(["FP32", "INT64", "BYTES", "BOOL", "UINT8", "FP16"]),
        "data": _json,
    }
)


@FUZZ
@given(body=st.binary(max_size=300))
def test_random_bytes_never_get_a_5xx(url: str, session: requests.Session, body: bytes) -> None:
    for path in ("/v2/models/doubler/infer", "/predict", "/invocations"):
        assert session.post(url + path, data=body, timeout=30).status_code < 500


@FUZZ
@given(body=_json)
def test_random_json_never_gets_a_5xx(url: str, session: requests.Session, body: object) -> None:
    for path in ("/v2/models/doubler/infer", "/predict", "/invocations"):
        assert session.post(url + path, json=body, timeout=30).status_code < 500


@FUZZ
@given(tensors=st.lists(_tensor_like, min_size=1, max_size=2))
def test_random_tensors_never_get_a_5xx(
    url: str, session: requests.Session, tensors: list[dict[str, object]]
) -> None:
    reply = session.post(f"{url}/v2/models/doubler/infer", json={"inputs": tensors}, timeout=30)
    assert reply.status_code in (200, 400), reply.text


def test_a_model_refusing_input_is_400_naming_it(
    register: Register, run_server: RunServer, settings: Settings
) -> None:
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    register(LogisticRegression().fit(x, [0, 1, 0, 1]), "logit", input_example=x)
    url = run_server([open_endpoint("models:/logit/1", settings)])
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [1, 2],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": 16},
                }
            ]
        }
    ).encode()
    body = header + np.array([np.nan, 1.0]).tobytes()  # NaN: only binary data can carry it
    reply = requests.post(
        f"{url}/v2/models/logit/infer",
        data=body,
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout=10,
    )
    assert reply.status_code == 400
    assert "model logit/1 cannot predict on this input" in reply.json()["error"]
    assert "NaN" in reply.json()["error"]


def test_a_failing_model_is_500_naming_model_and_version(
    register: Register, run_server: RunServer, settings: Settings
) -> None:
    register(Exploding(), "broken")
    url = run_server([open_endpoint("models:/broken/1", settings)])
    reply = requests.post(
        f"{url}/v2/models/broken/infer", json={"inputs": [_tensor([1, 1], [1.0])]}, timeout=10
    )
    assert reply.status_code == 500
    assert reply.json() == {
        "error": "model broken/1 failed: RuntimeError: the challenger is broken"
    }
    invocations = requests.post(f"{url}/invocations", json={"inputs": [[1.0]]}, timeout=10)
    assert invocations.status_code == 500
    assert invocations.json()["error_code"] == "INTERNAL_ERROR"


@pytest.fixture
def small(register: Register, run_server: RunServer, settings: Settings) -> str:
    register(Doubler(), "doubler", input_example=np.zeros((2, 3), dtype="float32"))
    app = ServingApp(
        [open_endpoint("models:/doubler/1", settings)],
        limits=ServerLimits(max_body_bytes=1000, body_timeout=0.5),
    )
    return run_server(app)


def test_bodies_over_the_limit_get_413(small: str) -> None:
    big = {"inputs": [_tensor([1, 3], [1, 2, 3]), {"padding": "x" * 2000}]}
    declared = requests.post(f"{small}/v2/models/doubler/infer", json=big, timeout=10)
    assert declared.status_code == 413
    assert "1000" in declared.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"inputs": ['
        for _ in range(50):
            yield b" " * 100

    chunked = requests.post(f"{small}/predict", data=chunks(), timeout=10)
    assert chunked.status_code == 413
    assert chunked.json()["error"]["code"] == "payload_too_large"


def test_a_slow_client_gets_408_and_the_server_goes_on(small: str) -> None:
    host, port = small.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n[[1, 2"
        )
        reply = sock.recv(65536)  # the server gives up on the rest of the body
    assert reply.startswith(b"HTTP/1.1 408")
    assert b"not sent within 0.5 seconds" in reply
    ok = requests.post(f"{small}/predict", json=[[1, 2, 3]], timeout=10)
    assert ok.json()["predictions"] == [[2.0, 4.0, 6.0]]


@pytest.mark.parametrize(
    "path", ["/v2x", "/v2models/doubler", "/endpointsx", "/endpoints/doubler/x", "/", "/../etc"]
)
def test_unknown_routes_get_404(url: str, path: str) -> None:
    assert requests.get(url + path, timeout=10).status_code == 404


def test_wrong_methods_get_405(url: str) -> None:
    assert requests.get(f"{url}/v2/models/doubler/infer", timeout=10).status_code == 405
    assert requests.post(f"{url}/v2/health/live", timeout=10).status_code == 405
    assert requests.get(f"{url}/predict", timeout=10).status_code == 405
