"""Where a loaded model runs: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

Only torch models and ONNX graphs (a package's own, or one converted at registration) run
on a GPU: torch moves the module and every input to the device, onnxruntime runs the
graph with its CUDA execution provider. Asking for a GPU this machine does not have is
refused before anything is loaded, with :class:`~loopml.errors.DeviceUnavailableError`:
a model never quietly falls back to the CPU.

Example:
    >>> check_device("cuda:1")
    'cuda:1'
    >>> gpu_index("cuda"), gpu_index("cpu")
    (0, None)
"""

from __future__ import annotations

from typing import Any

from loopml.errors import DeviceUnavailableError, InvalidInputError, quote
from loopml.packaging._optional import require

__all__ = ["CPU", "check_device", "gpu_index", "onnx_session", "torch_device"]

CPU = "cpu"
_CUDA_PROVIDER = "CUDAExecutionProvider"
_CPU_PROVIDER = "CPUExecutionProvider"
_QUIET = 3  # onnxruntime's log level "error": no warnings about declared output shapes


def check_device(device: str) -> str:
    """``device`` when it is ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises:
        InvalidInputError: anything else, named in the message.
    """
    if isinstance(device, str) and (device in (CPU, "cuda") or _index_text(device).isdigit()):
        return device
    raise InvalidInputError(
        f"device must be 'cpu', 'cuda' or 'cuda:N' (N a GPU's number), got {quote(device)}"
    )


def gpu_index(device: str) -> int | None:
    """The GPU's number for ``"cuda"`` (0) or ``"cuda:N"``; ``None`` for the CPU."""
    check_device(device)
    if device == CPU:
        return None
    return int(_index_text(device) or 0)


def torch_device(device: str) -> Any:
    """``torch.device(device)``, once torch can see that GPU.

    Raises:
        DeviceUnavailableError: torch sees no GPU (a CPU build, no driver) or fewer GPUs
            than the number asks for.
    """
    torch = require("torch", "torch", "torch", "running a torch model")
    index = gpu_index(device)
    if index is not None:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index >= count:
            raise _unavailable(device, f"torch sees {_gpus(count)} (torch {torch.__version__})")
    return torch.device(device)


def onnx_session(model: str | bytes, device: str) -> Any:
    """An onnxruntime session for the graph at path ``model`` (or its bytes) on ``device``.

    Raises:
        DeviceUnavailableError: onnxruntime has no CUDA execution provider (the CPU
            package ``onnxruntime`` rather than ``onnxruntime-gpu``), or it could not
            start it on that GPU.
    """
    ort = require("onnxruntime", "onnxruntime", "onnx", "running an ONNX model")
    options = ort.SessionOptions()
    options.log_severity_level = _QUIET
    index = gpu_index(device)
    if index is None:
        return ort.InferenceSession(model, options, providers=[_CPU_PROVIDER])
    available = ort.get_available_providers()
    if _CUDA_PROVIDER not in available:
        raise _unavailable(
            device,
            f"onnxruntime {ort.__version__} has no {_CUDA_PROVIDER} (it has "
            f"{', '.join(available)}); install onnxruntime-gpu on a machine with a GPU",
        )
    providers = [(_CUDA_PROVIDER, {"device_id": index}), _CPU_PROVIDER]
    session = ort.InferenceSession(model, options, providers=providers)
    if _CUDA_PROVIDER not in session.get_providers():  # it fell back: CUDA libraries missing
        raise _unavailable(device, f"onnxruntime could not start {_CUDA_PROVIDER} on GPU {index}")
    return session


def _index_text(device: str) -> str:
    return device.removeprefix("cuda:") if device.startswith("cuda:") else ""


def _gpus(count: int) -> str:
    return "no GPU" if count == 0 else f"{count} GPU{'s' if count > 1 else ''}"


def _unavailable(device: str, why: str) -> DeviceUnavailableError:
    return DeviceUnavailableError(
        f"cannot run the model on {device!r}: {why}; load it with device='cpu', or run "
        "where that GPU exists",
        details={"device": device},
    )
