"""An HTTP server that answers every MLflow tracking call at once, storing nothing.

    PYTHON bench/_null_http_server.py PORT

bench/server.py times the MLflow client against it to know what the client itself costs
per call: no server can make a call cheaper than this.
"""

from __future__ import annotations

import asyncio
import json
import sys

_RUN = {"run": {"info": {"run_id": "0" * 32, "experiment_id": "1", "status": "RUNNING"}}}


def _answer(path: bytes) -> bytes:
    if path.endswith(b"/experiments/create"):
        body = {"experiment_id": "1"}
    elif path.endswith(b"/runs/create"):
        body = _RUN
    else:
        body = {}
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}"
    return head.encode() + b"\r\n\r\n" + data


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            path = lines[0].split(b" ")[1].split(b"?")[0]
            writer.write(_answer(path))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1])))
