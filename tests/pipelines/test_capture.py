"""Each step keeps its own prints and logs, even with several steps on threads of one process."""

from __future__ import annotations

import io
import logging
import threading

from loopml.pipelines._capture import capturing


def test_threads_fill_their_own_buffers() -> None:
    buffers = {name: io.StringIO() for name in "abc"}
    started = threading.Barrier(3)

    def step(name: str) -> None:
        with capturing(buffers[name]):
            print(f"hello from {name}")
            started.wait(timeout=5)  # all three are inside their block at once
            logging.getLogger("steps").warning("bye from %s", name)

    threads = [threading.Thread(target=step, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    for name, buffer in buffers.items():
        text = buffer.getvalue()
        assert text.startswith(f"hello from {name}\n")
        assert f"bye from {name}" in text
        assert all(f"from {other}" not in text for other in "abc" if other != name)


def test_nothing_is_kept_outside_a_block() -> None:
    buffer = io.StringIO()
    with capturing(buffer):
        print("inside")
    print("outside")
    assert buffer.getvalue() == "inside\n"
