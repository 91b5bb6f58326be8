"""The Open Inference Protocol (KServe V2) REST bodies: infer requests in, replies out.

A request is JSON, or with the binary tensor data extension a JSON header of
``Inference-Header-Content-Length`` bytes followed by each binary input's bytes, in the
order of ``inputs`` (each such input says its size in ``parameters.binary_data_size``).
A reply carries an output as binary when the request asked for it (the output's
``parameters.binary_data``, or the request's ``parameters.binary_data_output``, which
tritonclient sets by default).

Example:
    >>> request = parse_infer(b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32",'
    ...                       b' "data": [0.5]}]}', header_length=None)
    >>> request.payload.tensors["x"].tolist()
    [0.5]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from loopml.errors import InvalidInputError
from loopml.packaging.signature import ColumnSpec, Signature, TensorSpec
from loopml.serving import _tensors
from loopml.serving._inputs import Payload, output_specs

__all__ = ["InferRequest", "encode_infer", "metadata", "parse_infer"]

JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


@dataclass(frozen=True, slots=True)
class InferRequest:
    """A decoded infer request: its tensors, id and which outputs come back how."""

    payload: Payload
    id: str | None
    outputs: tuple[str, ...] | None
    binary_outputs: frozenset[str]
    binary_default: bool


def parse_infer(body: bytes, header_length: str | None) -> InferRequest:
    """Decode an infer request body (JSON, or JSON header + binary tensors).

    Raises:
        InvalidInputError: malformed JSON, header length, tensors or binary sizes.
    """
    header, binary = _split(body, header_length)
    request = _loads(header)
    if not isinstance(request, dict):
        raise InvalidInputError("an infer request is a JSON object with 'inputs'")
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInputError("an infer request needs 'inputs': a non-empty list of tensors")
    tensors: dict[str, np.ndarray[Any, Any]] = {}
    offset = 0
    for tensor in inputs:
        name, array, offset = _tensor(tensor, binary, offset)
        if name in tensors:
            raise InvalidInputError(f"input '{name}' is given twice; send each input once")
        tensors[name] = array
    if offset != len(binary):
        raise InvalidInputError(
            f"the body has {len(binary) - offset} bytes after the binary inputs; "
            "binary_data_size must add up to the data sent"
        )
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInputError(f"request 'id' must be a string, got {request_id!r}")
    outputs, binary_outputs = _requested_outputs(request.get("outputs"))
    parameters = request.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInputError("request 'parameters' must be an object")
    return InferRequest(
        Payload(tensors=tensors),
        request_id,
        outputs,
        binary_outputs,
        parameters.get("binary_data_output") is True,
    )


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    try:
        size = int(header_length)
    except ValueError as err:
        raise InvalidInputError(
            f"Inference-Header-Content-Length must be a byte count, got {header_length!r}"
        ) from err
    if not 0 < size <= len(body):
        raise InvalidInputError(
            f"Inference-Header-Content-Length {size} is outside the body's {len(body)} bytes"
        )
    return body[:size], body[size:]


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise InvalidInputError(f"the body is not valid JSON ({err})") from err


def _tensor(tensor: Any, binary: bytes, offset: int) -> tuple[str, np.ndarray[Any, Any], int]:
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise InvalidInputError("each input is an object with a string 'name'")
    name = tensor["name"]
    for key in ("shape", "datatype"):
        if key not in tensor:
            raise InvalidInputError(f"input '{name}' has no '{key}'")
    parameters = tensor.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInputError(f"input '{name}': 'parameters' must be an object")
    size = parameters.get("binary_data_size")
    if size is None:
        if "data" not in tensor:
            raise InvalidInputError(f"input '{name}' has neither 'data' nor binary_data_size")
        return (
            name,
            _tensors.decode_json(name, tensor["datatype"], tensor["shape"], tensor["data"]),
            offset,
        )
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInputError(f"input '{name}': binary_data_size must be a byte count")
    if offset + size > len(binary):
        raise InvalidInputError(
            f"input '{name}': binary_data_size {size} runs past the {len(binary)} bytes sent"
        )
    raw = binary[offset : offset + size]
    return (
        name,
        _tensors.decode_binary(name, tensor["datatype"], tensor["shape"], raw),
        offset + size,
    )


def _requested_outputs(outputs: Any) -> tuple[tuple[str, ...] | None, frozenset[str]]:
    if outputs is None:
        return None, frozenset()
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise InvalidInputError("'outputs' must be a list of objects with a string 'name'")
    binary = {
        o["name"]
        for o in outputs
        if isinstance(o.get("parameters"), dict) and o["parameters"].get("binary_data") is True
    }
    return tuple(o["name"] for o in outputs), frozenset(binary)


def encode_infer(
    request: InferRequest,
    outputs: Mapping[str, np.ndarray[Any, Any]],
    *,
    model_name: str,
    model_version: str,
) -> tuple[bytes, int | None]:
    """The reply body and, when any output is binary, the JSON header's length.

    Raises:
        InvalidInputError: the request asked for an output the model does not give.
    """
    names = list(outputs) if request.outputs is None else list(request.outputs)
    unknown = [name for name in names if name not in outputs]
    if unknown:
        raise InvalidInputError(
            f"requested output{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"not given by {model_name}/{model_version}; it gives {', '.join(map(repr, outputs))}"
        )
    described: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name in names:
        values = outputs[name]
        entry: dict[str, Any] = {
            "name": name,
            "datatype": _tensors.datatype_of(values),
            "shape": list(values.shape),
        }
        if request.binary_default or name in request.binary_outputs:
            blob = _tensors.encode_binary(values)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = _tensors.json_data(values)
        described.append(entry)
    reply: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request.id is not None:
        reply["id"] = request.id
    reply["outputs"] = described
    header = orjson.dumps(reply, option=JSON_OPTIONS)
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)


def metadata(
    name: str, versions: list[str], platform: str, signature: Signature | None, outputs: Any
) -> dict[str, Any]:
    """Model metadata: the tensors' names, datatypes and shapes from the signature.

    ``outputs`` are ``(name, dtype, shape)`` found by predicting on the input example
    when the signature declares none.
    """
    inputs: list[dict[str, Any]] = []
    schema = None if signature is None else signature.inputs
    if isinstance(schema, TensorSpec):
        inputs.append(_tensor_metadata(schema.name or "input", schema.dtype, list(schema.shape)))
    elif schema is not None:
        for spec in schema:
            if isinstance(spec, ColumnSpec):
                inputs.append(_tensor_metadata(spec.name, spec.type, [-1]))
            else:
                inputs.append(_tensor_metadata(str(spec.name), spec.dtype, list(spec.shape)))
    declared = output_specs(signature) or outputs or []
    return {
        "name": name,
        "versions": versions,
        "platform": platform,
        "inputs": inputs,
        "outputs": [_tensor_metadata(*spec) for spec in declared],
    }


def _tensor_metadata(name: str, dtype: str, shape: list[int]) -> dict[str, Any]:
    return {"name": name, "datatype": _tensors.datatype_of_signature(dtype), "shape": shape}
