"""The serving app over a real uvicorn: V2, MLflow's scoring format, /predict, errors."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from _serving_models import Identity

from loopml.config import Settings
from loopml.serving.control import open_endpoint

from conftest import Register, RunServer


def test_smoke(register: Register, run_server: RunServer, settings: Settings) -> None:
    register(Identity(), "ident", input_example=np.zeros((2, 3), dtype="float32"))
    endpoint = open_endpoint("models:/ident/1", settings)
    url = run_server([endpoint])
    body = {"id": "r1", "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
    reply = requests.post(f"{url}/v2/models/ident/infer", json=body, timeout=10)
    print(reply.status_code, reply.text)
    assert reply.status_code == 200
