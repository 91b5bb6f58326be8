"""Model cards: one page saying what a model version is, where it came from and who let it in.

A card covers the version (status, aliases, description, tags), its package (flavor,
model class, signature, input example, requirements, Python version, size, file
digests), the run that trained it (params and metrics), the training data upstream of
that run in the lineage graph, every evaluation (metrics, slices, champion comparison,
gates with their reasons), approvals and rejections, and the history of aliases that
pointed at it. It renders as Markdown, and as one self-contained HTML page made from
that Markdown on the shared rendering path (:mod:`loopml.render`: inline CSS, each
evaluation's stored figures drawn with plotly inlined once, nothing fetched from the
network). In the Markdown, an evaluation's figures are links into the HTML card.

Example:
    >>> card = model_card(RegistryClient(), "churn", 3)  # doctest: +SKIP
    >>> Path("card.html").write_text(card.html)  # doctest: +SKIP
    >>> card.markdown.splitlines()[0]  # doctest: +SKIP
    '# churn v3'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loopml.registry import _card_sections as sections
from loopml.registry._card_data import CardData, gather

if TYPE_CHECKING:
    from loopml.registry.client import RegistryClient

__all__ = ["ModelCard", "model_card"]


@dataclass(frozen=True, slots=True)
class ModelCard:
    """The card of one model version.

    Attributes:
        model: the registered model's name.
        version: the version number.
        markdown: the card as Markdown (GitHub flavoured tables).
        data: what the card was made from.
        blocks: the Markdown in pieces, each with the evaluation whose figures follow it.

    Example:
        >>> card.markdown.startswith("# churn v3")  # doctest: +SKIP
        True
    """

    model: str
    version: int
    markdown: str
    data: CardData
    blocks: tuple[sections.Block, ...] = field(default=(), repr=False)

    @property
    def html(self) -> str:
        """The card as one self-contained HTML page (inline CSS, the evaluations' figures
        drawn with plotly inlined; no network needed)."""
        from loopml.registry._card_html import render_card

        blocks = self.blocks or ((self.markdown, None),)
        return render_card(
            blocks, self.data.figures, title=f"Model card: {self.model} v{self.version}"
        )


def model_card(client: RegistryClient, name: str, version: int) -> ModelCard:
    """The model card of ``name/version``, read from the registry, its run and lineage.

    Args:
        client: the registry to read from.
        name: the registered model.
        version: the version number.

    Raises:
        NotFoundError: the model or version does not exist.

    Example:
        >>> print(model_card(RegistryClient(), "churn", 3).markdown)  # doctest: +SKIP
    """
    data = gather(client, name, version)
    blocks: list[sections.Block] = [
        (sections.header(data), None),
        (sections.package(data), None),
        (sections.source_run(data), None),
        (sections.training_data(data), None),
        *sections.evaluation_blocks(data),
        (sections.approvals(data), None),
        (sections.alias_history(data), None),
        (sections.footer(), None),
    ]
    blocks = [(text, evaluation) for text, evaluation in blocks if text]
    markdown = "\n\n".join(text for text, _ in blocks).rstrip() + "\n"
    return ModelCard(
        model=name, version=version, markdown=markdown, data=data, blocks=tuple(blocks)
    )
