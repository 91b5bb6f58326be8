"""Find the code blocks of the docs and the ``docs-test`` directives written before them.

The conventions are in docs/contributing.md. In short: every fenced block tagged
``python``, ``bash``, ``sh`` or ``console`` in README.md and docs/*.md is run; an HTML
comment right before a block, ``<!-- docs-test: KEY[=VALUE] ... -->``, says how:

- ``fixture=NAME[,NAME]``: prepare something first (``_docs_fixtures.FIXTURES``);
- ``expect-fail[=WHAT]``: the block must fail (``WHAT``: the exception's class name for
  Python, the exit code for shell);
- ``skip="REASON"``: not run (installing from PyPI, ``make test`` itself); a reason is required;
- ``output``: on a ``text`` block, the printed output of the block before it;
- ``file=PATH``: the block is also saved as PATH in the working directory first (any
  language: a schema file, a definitions module); Python then runs it as that file.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

RUNNABLE = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "console": "console"}
DIRECTIVE = re.compile(r"\s*<!--\s*docs-test:(?P<body>.*?)-->\s*")  # a line of its own
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)[^`]*$")
KNOWN_KEYS = {"fixture", "expect-fail", "skip", "output", "file"}


class DocsSyntaxError(ValueError):
    """A ``docs-test`` directive the runner does not understand."""


@dataclass
class Block:
    """One fenced code block: where it is, its language, its code and its directives."""

    doc: str  # the file, relative to the repository root
    line: int  # the line of the opening fence (1-based)
    language: str  # python | bash | console | text | ...
    code: str
    options: dict[str, str] = field(default_factory=dict)
    expected_output: str | None = None  # from a following ``output`` text block

    @property
    def id(self) -> str:
        """``docs/registry.md:14``: the file and the line of the opening fence."""
        return f"{self.doc}:{self.line}"

    @property
    def kind(self) -> str | None:
        """``python``, ``bash`` or ``console`` when the block runs, else ``None``."""
        return RUNNABLE.get(self.language)

    @property
    def runs(self) -> bool:
        """Whether the runner runs it (or at least saves it as a file)."""
        return (self.kind is not None or "file" in self.options) and "skip" not in self.options

    @property
    def fixtures(self) -> list[str]:
        """The fixtures named by ``fixture=``, in order."""
        value = self.options.get("fixture", "")
        return [name for name in value.split(",") if name]


def parse_directive(body: str, where: str) -> dict[str, str]:
    """``fixture=a,b expect-fail`` -> ``{"fixture": "a,b", "expect-fail": ""}``."""
    options: dict[str, str] = {}
    for word in shlex.split(body):
        key, _, value = word.partition("=")
        if key not in KNOWN_KEYS:
            raise DocsSyntaxError(
                f"{where}: unknown docs-test key {key!r}; known: {', '.join(sorted(KNOWN_KEYS))}"
            )
        options[key] = value
    if "skip" in options and not options["skip"].strip():
        raise DocsSyntaxError(f'{where}: docs-test skip needs a reason: skip="why"')
    return options


def extract(path: Path, root: Path) -> list[Block]:
    """Every fenced block of ``path`` with its directives, in order."""
    doc = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending: dict[str, str] | None = None  # a directive waiting for its block
    i = 0
    while i < len(lines):
        text = lines[i]
        directive = DIRECTIVE.fullmatch(text)
        fence = FENCE.match(text)
        if directive:
            pending = parse_directive(directive.group("body"), f"{doc}:{i + 1}")
        elif fence:
            marker, start = fence.group("fence"), i
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            options = pending or {}
            block = Block(doc, start + 1, fence.group("info").lower(), "\n".join(body) + "\n")
            block.options = options
            if "output" in options:
                runnable = [b for b in blocks if b.runs]
                if not runnable:
                    raise DocsSyntaxError(f"{block.id}: an output block with no block before it")
                runnable[-1].expected_output = block.code
            blocks.append(block)
            pending = None
        elif text.strip() and pending is not None:
            raise DocsSyntaxError(
                f"{doc}:{i + 1}: a docs-test directive must come right before a code block"
            )
        i += 1
    return blocks


def doc_files(root: Path) -> list[Path]:
    """README.md and every docs/*.md, in a stable order."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]
