"""Notebook display of dataset versions: a summary, never the whole profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from loopml.config import Settings
from loopml.data import DatasetClient


def test_a_version_shows_a_summary_without_its_profile(tmp_path: Path) -> None:
    client = DatasetClient(Settings.load(home=tmp_path / "home"))
    columns = {"<script>alert(1)</script>": np.arange(50)}
    columns |= {f"col{i}": np.arange(50, dtype=float) * i for i in range(20)}
    version = client.log("wide", pd.DataFrame(columns))

    html = version._repr_html_()

    assert "Dataset version datasets:/wide/1" in html
    assert "<th" in html
    assert ">50<" in html
    assert ">21<" in html  # columns
    assert version.digest[:12] in html
    assert version.digest not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;, col0, col1" in html
    assert "col6" in html
    assert "col7" not in html
    assert "… 13 more" in html
    assert "mean" not in html
    assert "std" not in html
    assert len(html) < 3000
    assert "<script>" not in html
