"""Reports: a self-contained, well-formed HTML page, and a Rich table for the terminal."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest
from rich.console import Console

from loopml.data.report import render_html, render_table
from loopml.data.schema import infer_schema
from loopml.data.validate import ValidationResult, validate

VOID = {"meta", "br", "hr", "img", "input", "link"}


class Page(HTMLParser):
    """Checks that tags nest and close, and collects what the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: dict[str, int] = {}
        self.text: list[str] = []
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self._table = dict(attrs).get("id")
        if tag == "tr" and self._table and self.open[-1] == "tbody":
            self.rows[self._table] = self.rows.get(self._table, 0) + 1
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:]}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    assert parser.problems == []
    assert parser.open == [], "unclosed tags"
    return parser


@pytest.fixture
def failed() -> ValidationResult:
    reference = pd.DataFrame({"id": range(50), "plan": ["a", "b"] * 25, "x": [1.0] * 50})
    schema = infer_schema(reference)
    current = reference.assign(plan=["a", "<script>alert(1)</script>"] * 25, id=0, extra=1)
    current.loc[:4, "x"] = 9.0
    return validate(current, schema, reference=reference)


def test_the_page_lists_every_violation_and_every_column(failed: ValidationResult) -> None:
    page = parse(render_html(failed, title="orders", subtitle="new.csv against schema.toml"))
    text = " ".join(page.text)
    assert page.rows["violations"] == len(failed.violations)
    assert page.rows["columns"] == len(failed.columns) == 4
    for violation in failed.violations:
        assert violation.check in text
        assert violation.expected in text
    assert "Failed" in text
    assert failed.summary in text
    assert "new.csv against schema.toml" in text
    assert failed.drift["plan"].summary in text  # the drift column of the summary


def test_the_page_escapes_data_and_loads_nothing_from_the_network(
    failed: ValidationResult,
) -> None:
    html = render_html(failed, title="<b>orders</b>")
    page = parse(html)
    assert "<script>alert(1)" not in html  # the data's value, in a table and in a figure
    assert "&lt;script&gt;" in html
    assert "\\u003cscript\\u003ealert(1)" in html
    assert "<b>orders</b>" not in html
    assert not any(tag in ("link", "img", "iframe") for tag, _ in page.tags)
    # The only scripts are plotly's, inlined: nothing is fetched.
    assert not any(tag == "script" and "src" in attrs for tag, attrs in page.tags)
    assert ("<title>&lt;b&gt;orders&lt;/b&gt;</title>") in html


def test_errors_come_before_warnings(failed: ValidationResult) -> None:
    page = parse(render_html(failed))
    severities = [
        (attrs.get("class") or "").split()[-1]
        for tag, attrs in page.tags
        if tag == "td" and "sev" in (attrs.get("class") or "")
    ][: len(failed.violations)]
    assert severities == sorted(severities, key=lambda s: s != "error")
    assert "warn" in severities
    assert "error" in severities


def test_a_passing_result_says_so() -> None:
    page = parse(render_html(ValidationResult((), row_count=3, columns=())))
    assert "No violations: the data matches the schema." in " ".join(page.text)
    assert "violations" not in page.rows


def test_the_rich_table_has_one_row_per_violation(failed: ValidationResult) -> None:
    table = render_table(failed)
    assert table.row_count == len(failed.violations)
    assert table.title == failed.summary
    console = Console(width=200, record=True, color_system=None)
    console.print(table)
    output = console.export_text()
    assert "<script>alert(1)</script>" in output  # shown literally, never as markup
    assert output.index("error") < output.index("warn")


def test_each_compared_column_is_drawn_against_the_reference(failed: ValidationResult) -> None:
    from loopml.render import plotly_js

    html = render_html(failed)
    assert set(failed.distributions) == {"plan", "x"}  # id is unique: not compared
    assert failed.distributions["plan"]["values"] == ["a", "b", "<script>alert(1)</script>"]
    assert failed.distributions["plan"]["current"] == [25, 0, 25]
    assert failed.distributions["x"]["kind"] == "numeric"
    assert sum(failed.distributions["x"]["current"]) == 50
    assert html.count('class="plot"') == 2
    assert html.count(plotly_js()[:300]) == 1
    assert "overlay" in html  # numbers: the two histograms overlaid
