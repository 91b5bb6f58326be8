"""One remote client logging metrics for a while (bench/server.py's concurrency workload).

    PYTHON bench/_remote_logger.py URL HOME SECONDS

Logs single points to one run through ``RemoteTrackingClient`` for SECONDS (as fast as it
can: they are journaled locally), waits until the server holds every one, and prints
``run_id points failures``.
"""

from __future__ import annotations

import sys
import time

from loopml.config import Settings
from loopml.tracking.remote import RemoteTrackingClient


def main() -> None:
    url, home, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    client = RemoteTrackingClient(Settings.load(home=home, tracking_uri=url))
    run = client.create_run("concurrency")
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        client.log_metric(run.id, "loss", 1 / (step + 1), step=step)
        step += 1
    client.end_run(run.id)
    drained = client.outbox.flush(1800)  # wait until the server has every point
    client.close()
    print(run.id, step, len(client.outbox.failures) + (0 if drained else 1), flush=True)


if __name__ == "__main__":
    main()
