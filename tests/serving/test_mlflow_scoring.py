"""MLflow's scoring format (/invocations) and simple JSON (/predict) over a real uvicorn."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import requests
from _serving_models import Doubler
from _serving_support import Register, RunServer
from sklearn.linear_model import LogisticRegression

from loopml.config import Settings
from loopml.serving.control import open_endpoint

FRAME = pd.DataFrame({"age": [20.0, 35.0, 50.0, 65.0], "visits": [1, 4, 2, 9]})
LABELS = [0, 1, 0, 1]


@pytest.fixture
def table_model(register: Register) -> LogisticRegression:
    model = LogisticRegression().fit(FRAME, LABELS)
    register(model, "churn", input_example=FRAME)
    return model


@pytest.fixture
def churn(table_model: LogisticRegression, run_server: RunServer, settings: Settings) -> str:
    return run_server([open_endpoint("models:/churn/1", settings)])


def _expected(model: LogisticRegression, frame: pd.DataFrame) -> list[int]:
    return [int(x) for x in model.predict(frame)]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["age", "visits"], "data": [[20.0, 1], [65.0, 9]]}},
        {
            "dataframe_split": {
                "index": [0, 1],
                "columns": ["visits", "age"],
                "data": [[1, 20], [9, 65]],
            }
        },
        {"dataframe_records": [{"age": 20.0, "visits": 1}, {"age": 65.0, "visits": 9}]},
        {"instances": [{"age": 20.0, "visits": 1}, {"age": 65.0, "visits": 9}]},
        {"inputs": {"age": [20.0, 65.0], "visits": [1, 9]}},
    ],
    ids=["split", "split-reordered", "records", "instances", "inputs"],
)
def test_invocations_takes_each_mlflow_format(
    churn: str, table_model: LogisticRegression, body: dict[str, object]
) -> None:
    reply = requests.post(f"{churn}/invocations", json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    frame = pd.DataFrame({"age": [20.0, 65.0], "visits": [1, 9]})
    assert reply.json() == {"predictions": _expected(table_model, frame)}


def test_invocations_takes_csv(churn: str, table_model: LogisticRegression) -> None:
    reply = requests.post(
        f"{churn}/invocations",
        data=b"age,visits\n20.0,1\n65.0,9\n",
        headers={"Content-Type": "text/csv"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["predictions"] == _expected(table_model, FRAME.iloc[[0, 3]])


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["age"], "data": [[1.0]]}, "inputs": [[1]]},
        {"data": [[1, 2]]},
        [1, 2, 3],
        {"dataframe_split": {"columns": ["age", "visits"], "data": [[1.0]]}},
        {"dataframe_records": [1, 2]},
    ],
)
def test_invocations_refuses_what_mlflow_refuses_with_its_error_shape(
    churn: str, body: object
) -> None:
    reply = requests.post(f"{churn}/invocations", json=body, timeout=10)
    assert reply.status_code == 400
    assert reply.json()["error_code"] == "BAD_REQUEST"
    assert reply.json()["message"]


def test_predict_takes_records_and_columns(churn: str, table_model: LogisticRegression) -> None:
    expected = _expected(table_model, FRAME)
    records = FRAME.to_dict("records")
    columns = FRAME.to_dict("list")
    for body in (records, columns):
        reply = requests.post(f"{churn}/predict", json=body, timeout=10)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"model": "churn", "version": 1, "predictions": expected}


def test_predict_with_a_wrong_table_lists_every_problem(churn: str) -> None:
    body = {"age": ["old", "young"], "visitz": [1, 2]}
    reply = requests.post(f"{churn}/predict", json=body, timeout=10)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "signature_mismatch"
    problems = " ".join(error["details"]["problems"])
    assert "missing column 'visits'" in problems
    assert "column 'age' (double)" in problems


def test_several_endpoints_are_served_under_their_names(
    register: Register, table_model: LogisticRegression, run_server: RunServer, settings: Settings
) -> None:
    register(Doubler(), "doubler", input_example=np.zeros((1, 2)))
    url = run_server(
        [open_endpoint("models:/churn/1", settings), open_endpoint("models:/doubler/1", settings)]
    )
    doubled = requests.post(f"{url}/endpoints/doubler/predict", json=[[1, 2]], timeout=10)
    assert doubled.json()["predictions"] == [[2.0, 4.0]]
    scored = requests.post(
        f"{url}/endpoints/churn/invocations",
        json={"dataframe_records": [{"age": 20.0, "visits": 1}]},
        timeout=10,
    )
    assert scored.json() == {"predictions": _expected(table_model, FRAME.iloc[[0]])}
    ambiguous = requests.post(f"{url}/predict", json=[[1, 2]], timeout=10)
    assert ambiguous.status_code == 404
    assert "/endpoints/<name>/predict" in ambiguous.json()["error"]["message"]
    listed = requests.get(f"{url}/endpoints", timeout=10).json()
    assert [e["name"] for e in listed] == ["churn", "doubler"]
    assert requests.post(f"{url}/endpoints/nope/predict", json=[[1]], timeout=10).status_code == 404


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"p": [0.25, 0.75], "label": [0, 1]}),  # two dtypes: column by column
        pd.DataFrame(np.array([[0.5, 1.5], [2.5, 3.5]]), columns=["a", "b"]),  # one block
        pd.DataFrame({"label": ["yes", "no"], "p": [0.9, 0.1], "ok": [True, False]}),
    ],
    ids=["numbers", "one-block", "mixed"],
)
def test_a_frame_answer_becomes_records_as_mlflow_writes_them(frame: pd.DataFrame) -> None:
    from loopml.serving._scoring import encode_predictions

    decoded = json.loads(encode_predictions(frame))
    assert decoded == {"predictions": json.loads(frame.to_json(orient="records"))}
    assert [type(v) for v in decoded["predictions"][0].values()] == [
        type(v) for v in json.loads(frame.to_json(orient="records"))[0].values()
    ]
