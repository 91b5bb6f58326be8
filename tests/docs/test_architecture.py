"""docs/architecture.md draws the floors exactly as pyproject.toml's import contract has them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _drawn_floors() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    section = text.split("## The floors", 1)[1]
    diagram = section.split("```text\n", 1)[1].split("```", 1)[0]
    return [re.sub(r"^floor \S+\s+", "", line).strip() for line in diagram.splitlines()]


def test_the_floors_drawn_here_are_the_import_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    [layers] = [
        contract["layers"]
        for contract in config["tool"]["importlinter"]["contracts"]
        if contract["type"] == "layers"
    ]
    assert _drawn_floors() == layers
