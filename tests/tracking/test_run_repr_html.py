"""Notebook display of runs: a compact table with every user value escaped."""

from __future__ import annotations

import loopml
from loopml.tracking import Run, RunStatus


def test_a_run_renders_escaped_params_metrics_tags_and_inputs() -> None:
    with loopml.start_run(name="<script>alert(1)</script>", tags={"team": "<b>risk</b>"}) as run:
        loopml.log_param("model", "<img src=x onerror=alert(1)>")
        loopml.log_metric("acc", 0.912345678)

    html = loopml.get_run(run.id)._repr_html_()

    assert "<script>" not in html
    assert "<img" not in html
    assert "<b>risk" not in html
    assert "Run &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "model = &lt;img src=x onerror=alert(1)&gt;" in html
    assert "acc = 0.912346" in html
    assert "team = &lt;b&gt;risk&lt;/b&gt;" in html
    assert "loopml.pid" not in html  # system tags stay out
    assert "finished" in html
    assert "UTC" in html
    assert run._repr_html_().startswith('<table class="loopml"')


def test_long_values_and_many_params_are_cut() -> None:
    run = Run(
        id="r1",
        experiment_id="e1",
        name="x" * 1000,
        status=RunStatus.RUNNING,
        start_time=0,
        params={f"p{i:02d}": "v" for i in range(40)},
    )

    html = run._repr_html_()

    assert "Run " + "x" * 195 + "…" in html
    assert "x" * 201 not in html
    assert "p11 = v" in html
    assert "p12 = v" not in html
    assert "… 28 more" in html
    assert "ended" not in html  # a running run has no end yet
