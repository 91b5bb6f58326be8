"""The re-run itself, in the rebuilt environment: ``python -m loopml.automation._reproduce_child``.

It reads a JSON request (the pipeline's entrypoint in the checkout, the recorded
parameters, executor and dataset versions, the tags, the store's settings), runs the
pipeline with caching off (a cached step would hand back the original's results and prove
nothing), and writes ``{"run_id", "status"}`` to the result file.

Example:
    $ python -m loopml.automation._reproduce_child request.json result.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main(request_file: str, result_file: str) -> int:
    """Run the request in ``request_file``; write the run's id and status to ``result_file``."""
    from loopml.config import Settings
    from loopml.pipelines import load_pipeline

    request: dict[str, Any] = json.loads(Path(request_file).read_text())
    settings = Settings.load(**request["settings"])
    target = load_pipeline(request["entrypoint"])
    run = target.run(
        request["params"],
        executor=request["executor"],
        cache=False,
        experiment=request["experiment"],
        run_name=request["run_name"],
        settings=settings,
        raise_on_failure=False,
        tags=request["tags"],
        dataset_versions=request["dataset_versions"],
    )
    Path(result_file).write_text(json.dumps({"run_id": run.id, "status": str(run.status)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
