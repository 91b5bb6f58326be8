"""The child side of the infra check: load a package folder and predict its input example.

Run as ``python -I -m loopml.evaluation._infra_child <folder> <trusted JSON>`` by
:func:`loopml.evaluation.infra.check_package`. On success it prints one JSON line
(``{"rows": 5, "notes": [...]}``); on failure it prints the traceback to stderr and
exits with a code naming the phase that failed (see ``EXIT_CODES``), so the parent
can say what failed and quote the last line of stderr.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES = {3: "requirements", 4: "load", 5: "predict"}
_EXIT = {phase: code for code, phase in EXIT_CODES.items()}


def _run(folder: Path, trusted: list[str]) -> dict[str, Any]:
    from loopml.packaging.package import read_manifest, requirement_drift

    missing, differ = requirement_drift(read_manifest(folder).requirements)
    if missing:
        print(
            f"requirement(s) not installed: {', '.join(missing)}; "
            f"install them with `pip install {' '.join(missing)}`",
            file=sys.stderr,
        )
        raise SystemExit(_EXIT["requirements"])
    try:
        from loopml.packaging.loading import load_package

        loaded = load_package(folder, trusted=trusted)
    except Exception:
        traceback.print_exc()
        raise SystemExit(_EXIT["load"]) from None
    try:
        example = loaded.input_example()
        rows = None
        if example is not None:
            loaded.predict(example)
            rows = _rows(example)
    except Exception:
        traceback.print_exc()
        raise SystemExit(_EXIT["predict"]) from None
    return {"rows": rows, "notes": differ}


def _rows(example: Any) -> int:
    if isinstance(example, dict):  # named tensors: rows of the first
        example = next(iter(example.values()), [])
    return len(example) if hasattr(example, "__len__") else 1


def main(argv: list[str]) -> int:
    """Check the package folder ``argv[0]`` (``argv[1]``: trusted types as JSON)."""
    folder = Path(argv[0])
    trusted = json.loads(argv[1]) if len(argv) > 1 else []
    try:
        outcome = _run(folder, trusted)
    except Exception:  # reading the manifest failed: the package itself is broken
        traceback.print_exc()
        return _EXIT["load"]
    print(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
