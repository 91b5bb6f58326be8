"""Notebook display of pipeline runs: the run and one line per step, escaped."""

from __future__ import annotations

from _steps import arithmetic

from loopml.config import Settings
from loopml.pipelines.models import PipelineRunInfo


def test_a_pipeline_run_renders_its_steps(settings: Settings) -> None:
    run = arithmetic.run({"n": 2}, settings=settings)

    html = run._repr_html_()

    assert f"Pipeline run {run.info.pipeline}" in html
    assert run.id in html
    assert "finished" in html
    for node in run.steps:
        assert f">{node}<" in html
    assert html.count("completed") == len(run.steps)


def test_names_are_escaped_and_many_steps_are_cut() -> None:
    from loopml.pipelines.models import StepRunInfo, StepStatus

    steps = {
        f"s{i}": StepRunInfo(f"s{i}", "s", StepStatus.COMPLETED, None, None, None, 1, 0, 1500, {})
        for i in range(150)
    }
    info = PipelineRunInfo(
        "p1", "<script>x</script>", "finished", {}, "local", True, None, None, 0, 1, {}, steps
    )

    html = info._repr_html_()

    assert "<script>" not in html
    assert "Pipeline run &lt;script&gt;x&lt;/script&gt;" in html
    assert ">s99<" in html
    assert ">s100<" not in html
    assert "… 50 more steps" in html
    assert "1.5 s" in html
