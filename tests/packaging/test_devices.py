"""Devices: torch and ONNX models load on a GPU when asked, and are refused plainly without one.

This machine has no GPU: the refusals and ``device="cpu"`` are tested everywhere; the CUDA
path runs only where torch sees a GPU (the skip is for the hardware alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier

from loopml.errors import DeviceUnavailableError, InvalidInputError
from loopml.packaging import load_package, save_package
from loopml.packaging.devices import check_device, gpu_index
from loopml.packaging.onnx_export import add_onnx

HAS_CUDA = torch.cuda.is_available()
ORT_HAS_CUDA = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
NO_GPU = "needs a CUDA GPU, which this machine does not have (hardware only)"


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x: Any) -> Any:
        return self.linear(x)


@pytest.fixture
def torch_package(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    folder = tmp_path / "net"
    save_package(_Net(), folder, input_example=np.ones((2, 3), dtype="float32"))
    return folder


@pytest.fixture
def forest_package(tmp_path: Path) -> Path:
    x = np.random.default_rng(0).normal(size=(40, 4))
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, x[:, 0] > 0)
    folder = tmp_path / "forest"
    save_package(forest, folder, input_example=x[:5])
    add_onnx(folder)
    return folder


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:-1", "cuda:1x", "CPU", "", 0])
def test_a_malformed_device_is_refused_naming_it(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="device must be 'cpu', 'cuda' or 'cuda:N'"):
        check_device(bad)


def test_devices_name_their_gpu() -> None:
    assert [gpu_index(d) for d in ("cpu", "cuda", "cuda:3")] == [None, 0, 3]


def test_a_torch_model_loads_on_the_cpu_when_asked(torch_package: Path) -> None:
    loaded = load_package(torch_package, device="cpu")
    assert loaded.device == "cpu"
    assert loaded.predict(np.ones((4, 3), dtype="float32")).shape == (4, 2)


@pytest.mark.skipif(HAS_CUDA, reason="the refusal is for machines without a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:7"])
def test_a_torch_model_on_a_missing_gpu_is_refused(torch_package: Path, device: str) -> None:
    with pytest.raises(DeviceUnavailableError, match=f"cannot run the model on '{device}'"):
        load_package(torch_package, device=device)


@pytest.mark.skipif(not HAS_CUDA, reason=NO_GPU)
def test_a_torch_model_runs_on_the_gpu(torch_package: Path) -> None:
    loaded = load_package(torch_package, device="cuda")
    on_cpu = load_package(torch_package)
    x = np.ones((4, 3), dtype="float32")
    assert next(loaded.model.module.parameters()).device.type == "cuda"  # type: ignore[attr-defined]
    assert np.allclose(loaded.predict(x), on_cpu.predict(x), atol=1e-5)


@pytest.mark.skipif(ORT_HAS_CUDA, reason="the refusal is for onnxruntime without CUDA")
def test_an_onnx_graph_on_a_gpu_without_the_cuda_provider_is_refused(
    forest_package: Path,
) -> None:
    with pytest.raises(DeviceUnavailableError, match="has no CUDAExecutionProvider"):
        load_package(forest_package, runtime="onnx", device="cuda")


@pytest.mark.skipif(not ORT_HAS_CUDA, reason=NO_GPU + " with onnxruntime-gpu")
def test_an_onnx_graph_runs_on_the_gpu(forest_package: Path) -> None:
    loaded = load_package(forest_package, runtime="onnx", device="cuda")
    assert "CUDAExecutionProvider" in loaded.model.session.get_providers()  # type: ignore[attr-defined]


def test_a_cpu_only_flavor_asked_for_a_gpu_says_how_to_get_one(forest_package: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"runs on the CPU only.*runtime='onnx'"):
        load_package(forest_package, device="cuda")
    assert load_package(forest_package, runtime="onnx", device="cpu").device == "cpu"
