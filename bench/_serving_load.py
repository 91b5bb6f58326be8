"""What bench/serving.py drives servers with: start, stop, measure memory, load with wrk.

A :class:`Server` says how to start one side's server and what to POST to it; :func:`start`
runs it in its own process group and times the first 200 (its cold start), :func:`load`
runs wrk against it (one thread, keep-alive, a Lua script for the body) and reads wrk's
summary, :func:`memory` reads the RSS of its processes, and :func:`stop` ends it and every
process it started. :class:`AliasMover` moves a registered model's alias from a loopml
process started beforehand.

Example:
    >>> parse_wrk(WRK_MARK + '{"requests": 10, "duration_us": 1000000, "connect": 0, '
    ...     '"read": 0, "write": 0, "status": 1, "timeout": 0, "p50_us": 2000, '
    ...     '"p90_us": 3000, "p99_us": 4000, "max_us": 5000}', "example")["rps"]
    9.0
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import WorkerError

START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 15


class Unavailable(WorkerError):
    """A variant the tool under test does not offer (yet): reported, never measured."""


@dataclass(frozen=True)
class Server:
    """How to start one side's server and what to send it."""

    label: str
    command: Callable[[int], list[str]]  # the command line for a port
    env: dict[str, str]
    cwd: Path
    path: str  # where the requests go
    body: bytes
    body_label: str
    concurrency: tuple[int, ...] = (1, 16)
    predict_key: str = "predict_seconds"  # which prepared timing is "the model's predict"
    blocked: str = ""  # why this variant cannot run (set when preparing found out)
    note: str = ""  # how it differs from what the line asks for
    shown: str = ""  # the command as a person would type it, for messages


@dataclass
class Running:
    server: Server
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    cold_start_s: float = 0.0
    reply: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.server.path}"


# -- starting and stopping a server ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def post(port: int, path: str, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def start(server: Server, logs: Path) -> Running:
    """Start ``server`` and wait for its first 200 (the cold start)."""
    if server.blocked:
        raise Unavailable(server.blocked)
    port = free_port()
    log = logs / f"{server.label.replace(' ', '-')}-{port}.log"
    command = server.command(port)
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=server.cwd,
            env=server.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    running = Running(server, process, port, log)
    last = "no answer"
    while time.perf_counter() - started < START_TIMEOUT_S:
        if process.poll() is not None:
            raise _exited(running, command)
        try:
            status, reply = post(port, server.path, server.body, timeout=2.0)
        except OSError as err:
            last = f"{type(err).__name__}: {err}"
            time.sleep(0.01)
            continue
        if status == 200:
            running.cold_start_s = time.perf_counter() - started
            running.reply = reply.decode(errors="replace")[:200]
            return running
        last = f"HTTP {status}: {reply[:300]!r}"
        time.sleep(0.02)
    stop(running)
    raise WorkerError(
        f"{server.label}: no 200 within {START_TIMEOUT_S} s (last: {last}); log: {_tail(log)}"
    )


def first_prediction(reply: str) -> str:
    """The first prediction in a reply (``{"predictions": [0]}`` or ``[0]``), as text."""
    try:
        answer = json.loads(reply)
    except ValueError:
        return "?"
    if isinstance(answer, dict):
        answer = answer.get("predictions", answer.get("outputs"))
    while isinstance(answer, list) and answer:
        answer = answer[0]
    return json.dumps(answer)


def _exited(running: Running, command: list[str]) -> WorkerError:
    """The error for a server that exited before its first 200."""
    code = running.process.returncode
    tail = _tail(running.log)
    refused = ("No such option", "No such command", "no such option", "unrecognized argument")
    if code == 2 and any(word in tail for word in refused):
        shown = running.server.shown or shlex.join(command)
        said = next((part for part in tail.split(" | ") if any(w in part for w in refused)), tail)
        return Unavailable(f"not available: `{shown}` was refused: {said.strip()}")
    return WorkerError(f"{running.server.label} exited {code} before its first 200: {tail}")


def _tail(log: Path, lines: int = 6) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return plain(" | ".join(text.strip().splitlines()[-lines:]))[-1200:]


def plain(text: str) -> str:
    """``text`` on one line without the box drawing of Rich's error panels."""
    return " ".join(text.translate(BOX_DRAWING).split())


BOX_DRAWING = str.maketrans(dict.fromkeys("╭╮╰╯─│", " "))


def stop(running: Running) -> None:
    """SIGTERM the server's process group and every process it started; SIGKILL stragglers."""
    family = _family(running.process.pid)
    groups = {running.process.pid}
    for pid in family:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(pid))
    for group in groups:  # the server's own group, and any its workers moved into
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGTERM)
    try:
        running.process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait(STOP_TIMEOUT_S)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for pid in family:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _family(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def memory(running: Running) -> dict[str, Any]:
    """RSS of every process of the server (MiB): the largest one, their sum, how many."""
    import psutil

    root = psutil.Process(running.process.pid)
    sizes = []
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            sizes.append(process.memory_info().rss / 2**20)
    return {
        "rss_worker_mb": max(sizes),
        "rss_total_mb": sum(sizes),
        "processes": len(sizes),
        "rss_each_mb": [round(size, 1) for size in sizes],
    }


# -- the load generator ------------------------------------------------------------------

WRK_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, "
    .. "\\"read\\": %d, \\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, "
    .. "\\"p50_us\\": %d, \\"p90_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d}}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
WRK_MARK = "WRK_JSON "


def wrk_command(running: Running, connections: int, seconds: int, script: Path) -> list[str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is missing: run `make bench-setup` (apt-get install wrk)")
    return [
        wrk,
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(script),
        running.url,
    ]


def wrk_script(running: Running, logs: Path) -> Path:
    path = logs / f"wrk-{running.port}.lua"
    if not path.exists():
        path.write_text(WRK_SCRIPT.format(body=running.server.body.decode()))
    return path


def parse_wrk(stdout: str, what: str) -> dict[str, Any]:
    """wrk's summary (the ``done`` callback's line) as rates, seconds and error counts."""
    for line in stdout.splitlines():
        if line.startswith(WRK_MARK):
            raw = json.loads(line[len(WRK_MARK) :])
            break
    else:
        raise WorkerError(f"wrk printed no summary for {what}: {stdout[-600:]}")
    errors = sum(raw[key] for key in ("connect", "read", "write", "status", "timeout"))
    seconds = raw["duration_us"] / 1e6
    return {
        "rps": (raw["requests"] - raw["status"]) / seconds,  # answered with a 2xx/3xx
        "p50": raw["p50_us"] / 1e6,
        "p99": raw["p99_us"] / 1e6,
        "errors": errors,
        "requests": raw["requests"],
        "wrk": raw,
    }


def load(running: Running, connections: int, seconds: int, logs: Path) -> dict[str, Any]:
    command = wrk_command(running, connections, seconds, wrk_script(running, logs))
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise WorkerError(f"wrk exited {done.returncode}: {done.stderr[-600:]}")
    return parse_wrk(done.stdout, f"{running.server.label} c={connections}")


MOVER_CODE = """
import sys, time
from loopml.config import Settings
from loopml.registry.client import RegistryClient
client = RegistryClient(Settings.load())
model = sys.argv[1]
print("ready", flush=True)
for line in sys.stdin:
    started = time.perf_counter()
    client.set_alias(model, "production", int(line), reason="bench: alias swap under load")
    print(f"moved {time.perf_counter() - started}", flush=True)
"""


class AliasMover:
    """Moves ``MODEL@production`` on demand, from a loopml process started beforehand.

    What ``loopml models alias`` does (``RegistryClient.set_alias``), without paying for an
    interpreter start per move: on this 2-core machine that took seconds, longer than the
    gap between two moves.
    """

    def __init__(self, python: Path, env: dict[str, str], model: str) -> None:
        self.process = subprocess.Popen(
            [str(python), "-c", MOVER_CODE, model],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._expect("ready")

    def move(self, version: int) -> float:
        """Point the alias at ``version``; the seconds the move took."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{version}\n")
        self.process.stdin.flush()
        return float(self._expect("moved").split()[1])

    def _expect(self, word: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(word):
            self.process.kill()
            _, stderr = self.process.communicate()
            raise WorkerError(f"moving the alias failed: {plain(stderr)[-600:]}")
        return line

    def __enter__(self) -> AliasMover:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
