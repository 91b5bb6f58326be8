"""Notebook display of model versions: a compact, escaped table."""

from __future__ import annotations

from loopml.registry.models import ModelVersion, VersionStatus


def test_a_model_version_renders_escaped() -> None:
    version = ModelVersion(
        model="churn",
        version=3,
        id="01J0",
        status=VersionStatus.VALIDATED,
        source="runs:/abc/model",
        run_id="abc",
        flavor="sklearn",
        package_digest="f" * 64,
        size_bytes=3 * 1024 * 1024,
        description="<script>alert(1)</script>",
        tags={"owner": "<b>ada</b>"},
        aliases=("production",),
        created_at=1_700_000_000_000,
        created_by="ada",
        status_changed_at=1_700_000_000_000,
    )

    html = version._repr_html_()

    assert "Model version models:/churn/3" in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "owner = &lt;b&gt;ada&lt;/b&gt;" in html
    assert "validated" in html
    assert "production" in html
    assert "sklearn" in html
    assert "3.0 MiB" in html
    assert "f" * 12 in html
    assert "f" * 13 not in html
    assert "2023-11-14 22:13:20 UTC" in html
