"""The run-search filter language: tokenizer and recursive-descent parser.

Private: :mod:`loopml.tracking.search` documents the grammar and is the public face.
The parser also checks meaning (a metric is compared with a number, a param is not
ordered with ``<``), because only here do we still know where in the text a problem is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from loopml.errors import InvalidInputError, close_matches
from loopml.tracking._filter_syntax import NAME_CHARS as _NAME_CHARS
from loopml.tracking._filter_syntax import (
    NULL_OPS,
    And,
    Comparison,
    Entity,
    FilterNode,
    Or,
    Scalar,
    Value,
)

__all__ = [
    "ATTRIBUTE_ALIASES",
    "ENTITY_ALIASES",
    "TEXT_ATTRIBUTES",
    "TIME_ATTRIBUTES",
    "And",
    "Comparison",
    "Entity",
    "FilterNode",
    "Or",
    "Scalar",
    "Value",
    "parse",
    "parse_order_item",
    "syntax_error",
]

ENTITY_ALIASES: Final[dict[str, Entity]] = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
TEXT_ATTRIBUTES: Final = ("run_id", "run_name", "status", "experiment_id", "parent_run_id", "user")
TIME_ATTRIBUTES: Final = ("start_time", "end_time")
ATTRIBUTE_ALIASES: Final[dict[str, str]] = {
    **{name: name for name in (*TEXT_ATTRIBUTES, *TIME_ATTRIBUTES)},
    "id": "run_id",
    "name": "run_name",
}

SYMBOL_OPS: Final = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
ORDERING_OPS: Final = frozenset({"<", "<=", ">", ">="})
LIKE_OPS: Final = frozenset({"LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"})
LIST_OPS: Final = frozenset({"IN", "NOT IN"})
_KEYWORDS: Final = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE"})

# Limits that keep a hostile filter from exhausting the parser or the database.
MAX_DEPTH: Final = 50
MAX_COMPARISONS: Final = 200
MAX_LIST_VALUES: Final = 5000

_NUMBER: Final = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
    re.IGNORECASE,
)

_EXPECT_IDENTIFIER: Final = (
    "an identifier such as metrics.<key>, params.<key>, tags.<key> or an attribute "
    f"({', '.join((*TEXT_ATTRIBUTES, *TIME_ATTRIBUTES))})"
)
_EXPECT_OPERATOR: Final = (
    "an operator: =, !=, <, <=, >, >=, LIKE, ILIKE, NOT LIKE, NOT ILIKE, IN, NOT IN, "
    "IS NULL or IS NOT NULL"
)
_EXPECT_VALUE: Final = "a number or a quoted string such as 'abc'"
_EXPECT_ENTITY: Final = "metrics, params, tags or attributes"
_EXPECT_TEXT_OPERATOR: Final = (
    "=, !=, LIKE, ILIKE, NOT LIKE, NOT ILIKE, IN, NOT IN, IS NULL or IS NOT NULL"
)
_EXPECT_NUMBER_OPERATOR: Final = "=, !=, <, <=, >, >=, IN, NOT IN, IS NULL or IS NOT NULL"
_EXPECT_TOKEN: Final = (
    "a name, number, quoted string, operator or parenthesis; keys with other characters "
    "go in backquotes, e.g. metrics.`val loss`"
)
_NEGATION_HINT: Final = "; negate a comparison with !=, NOT IN, NOT LIKE or IS NULL"


# -- errors ------------------------------------------------------------------------------

Span: TypeAlias = tuple[int, int]


def syntax_error(
    source: str,
    span: Span,
    problem: str,
    expected: str = "",
    suggestions: Sequence[str] = (),
    subject: str = "filter",
) -> InvalidInputError:
    """An error that quotes the line of ``source`` holding ``span`` and underlines the span."""
    start, end = span
    line_start = source.rfind("\n", 0, start) + 1
    line_end = source.find("\n", start)
    line_end = len(source) if line_end < 0 else line_end
    line = source[line_start:line_end]
    line_number = source.count("\n", 0, start) + 1
    column = start - line_start + 1
    where = f"line {line_number}, column {column}" if "\n" in source else f"column {column}"
    message = f"invalid {subject} at {where}: {problem}"
    if suggestions:
        message += f"; did you mean {' or '.join(suggestions)}?"
    if expected:
        message += f"; expected {expected}"
    # Keep tabs in the padding so the caret lines up under the same character.
    padding = "".join("\t" if char == "\t" else " " for char in line[: start - line_start])
    message += f"\n    {line}\n    {padding}{'^' * max(1, min(end, line_end) - start)}"
    details = {
        subject.replace(" ", "_"): source,
        "position": start,
        "line": line_number,
        "column": column,
        "expected": expected,
        "suggestions": list(suggestions),
    }
    return InvalidInputError(message, details=details)


# -- tokenizer ---------------------------------------------------------------------------

TokenKind: TypeAlias = Literal["word", "number", "string", "name", "op", "(", ")", ",", "end"]
_PUNCTUATION: Final[dict[str, TokenKind]] = {"(": "(", ")": ")", ",": ","}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: TokenKind
    text: str  # a word or number as written; the decoded contents of a quoted token
    start: int
    end: int
    quote: str = ""

    @property
    def span(self) -> Span:
        return self.start, self.end

    def keyword(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    def describe(self) -> str:
        if self.kind == "end":
            return "end of input"
        if self.kind in ("string", "name"):
            return f"quoted {self.quote}{self.text}{self.quote}"
        if self.keyword() in _KEYWORDS:
            return f"keyword {self.keyword()}"
        return f"'{self.text}'"


class _Tokenizer:
    def __init__(self, source: str, subject: str) -> None:
        self.source = source
        self.subject = subject

    def error(self, pos: int, problem: str, expected: str) -> InvalidInputError:
        return syntax_error(self.source, (pos, pos + 1), problem, expected, subject=self.subject)

    def tokens(self) -> list[_Token]:
        source, found, pos = self.source, [], 0
        while True:
            while pos < len(source) and source[pos].isspace():
                pos += 1
            if pos == len(source):
                found.append(_Token("end", "", pos, pos))
                return found
            token = self._token_at(pos)
            found.append(token)
            pos = token.end

    def _token_at(self, pos: int) -> _Token:
        char = self.source[pos]
        if char in _PUNCTUATION:
            return _Token(_PUNCTUATION[char], char, pos, pos + 1)
        if char in "=!<>":
            pair = self.source[pos : pos + 2]
            symbol = pair if pair in SYMBOL_OPS else char
            if symbol not in SYMBOL_OPS:
                raise self.error(pos, "unexpected '!'", "!=")
            return _Token("op", symbol, pos, pos + len(symbol))
        if char in "'\"`":
            return self._quoted(pos, char)
        number = _NUMBER.match(self.source, pos)
        if number and not self._continues_word(number.end()):
            return _Token("number", number.group(), pos, number.end())
        if char in _NAME_CHARS:
            end = pos
            while self._continues_word(end):
                end += 1
            return _Token("word", self.source[pos:end], pos, end)
        hint = {"&": "AND", "|": "OR"}.get(char, _EXPECT_TOKEN)
        raise self.error(pos, f"unexpected character {char!r}", hint)

    def _continues_word(self, pos: int) -> bool:
        return pos < len(self.source) and self.source[pos] in _NAME_CHARS

    def _quoted(self, pos: int, quote: str) -> _Token:
        # A doubled quote stands for itself; in strings \' \" and \\ do too, and any other
        # backslash is kept (so LIKE patterns can escape wildcards: '50\%').
        source, chars, index = self.source, list[str](), pos + 1
        kind: TokenKind = "name" if quote == "`" else "string"
        while index < len(source):
            char, following = source[index], source[index + 1 : index + 2]
            if char == quote and following != quote:
                return _Token(kind, "".join(chars), pos, index + 1, quote)
            if char == "\0" or "\ud800" <= char <= "\udfff":  # no database can store these
                raise self.error(index, f"unexpected character {char!r}", "printable text")
            escaped = char == quote or (
                char == "\\" and kind == "string" and following in (quote, "\\")
            )
            chars.append(following if escaped else char)
            index += 2 if escaped else 1
        raise self.error(pos, f"unterminated quoted {kind}", f"a closing {quote}")


# -- parser ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """What a comparison is about, and where it was written."""

    entity: Entity
    key: str
    span: Span

    @property
    def kind(self) -> Literal["number", "time", "text"]:
        if self.entity == "metrics":
            return "number"
        return "time" if self.key in TIME_ATTRIBUTES else "text"

    @property
    def label(self) -> str:
        noun = {"metrics": "metric", "params": "param", "tags": "tag"}.get(self.entity)
        return f"{noun} '{self.key}'" if noun else f"attribute {self.key}"


class _Parser:
    def __init__(self, source: str, subject: str) -> None:
        self.source = source
        self.subject = subject
        self.tokens = _Tokenizer(source, subject).tokens()
        self.index = 0
        self.depth = 0
        self.comparisons = 0

    # plumbing

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def accept(self, *keywords: str) -> bool:
        if self.peek().keyword() in keywords:
            self.advance()
            return True
        return False

    def error(
        self, span: Span, problem: str, expected: str = "", suggestions: Sequence[str] = ()
    ) -> InvalidInputError:
        return syntax_error(self.source, span, problem, expected, suggestions, self.subject)

    def unexpected(self, token: _Token, expected: str) -> InvalidInputError:
        return self.error(token.span, f"unexpected {token.describe()}", expected)

    def expect_end(self, expected: str) -> None:
        if self.peek().kind != "end":
            raise self.unexpected(self.peek(), expected)

    # grammar

    def filter(self) -> FilterNode:
        node = self.or_expression()
        self.expect_end("AND, OR or the end of the filter")
        return node

    def or_expression(self) -> FilterNode:
        items = [self.and_expression()]
        while self.accept("OR"):
            items.append(self.and_expression())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expression(self) -> FilterNode:
        items = [self.atom()]
        while self.accept("AND"):
            items.append(self.atom())
        return items[0] if len(items) == 1 else And(tuple(items))

    def atom(self) -> FilterNode:
        opening = self.peek()
        if opening.kind != "(":
            return self.comparison()
        if self.depth >= MAX_DEPTH:
            raise self.error(opening.span, f"more than {MAX_DEPTH} nested parentheses")
        self.advance()
        self.depth += 1
        node = self.or_expression()
        self.depth -= 1
        if self.peek().kind != ")":
            column = opening.start - self.source.rfind("\n", 0, opening.start)
            raise self.unexpected(
                self.peek(), f"AND, OR or ')' to close the '(' at column {column}"
            )
        self.advance()
        return node

    def comparison(self) -> Comparison:
        target = self.target()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise self.error(
                target.span,
                f"more than {MAX_COMPARISONS} comparisons in one filter",
                "a shorter filter; match many values at once with IN (...)",
            )
        op_token = self.peek()
        op = self.operator()
        if op in NULL_OPS:
            return Comparison(target.entity, target.key, op)
        self.check_operator(target, op, op_token)
        if op in LIST_OPS:
            values = tuple(self.convert(target, op, token) for token in self.value_list())
            return Comparison(target.entity, target.key, op, values)
        return Comparison(target.entity, target.key, op, self.convert(target, op, self.value()))

    def target(self) -> _Target:
        token = self.advance()
        if token.kind != "word" or token.keyword() in _KEYWORDS:
            hint = _NEGATION_HINT if token.keyword() == "NOT" else ""
            raise self.unexpected(token, _EXPECT_IDENTIFIER + hint)
        prefix, dot, key = token.text.partition(".")
        if not dot:
            return _Target("attributes", self.attribute(token, token.text), token.span)
        entity = ENTITY_ALIASES.get(prefix.lower())
        if entity is None:
            problem = f"unknown entity '{prefix}'" if prefix else "missing entity before '.'"
            matches = close_matches(prefix.lower(), ENTITY_ALIASES)
            suggestions = list(dict.fromkeys(ENTITY_ALIASES[name] for name in matches))
            span = (token.start, token.start + len(prefix))
            raise self.error(span, problem, _EXPECT_ENTITY, suggestions)
        end = token.end
        if not key:  # metrics.`val loss` and metrics."val loss" are two tokens
            quoted = self.peek()
            if quoted.start != token.end or quoted.quote not in ('"', "`"):
                example = f"{prefix}.acc or {prefix}.`val loss`"
                problem = f"missing key after '{token.text}'"
                raise self.error((token.end, quoted.end), problem, f"a key, e.g. {example}")
            key, end = self.advance().text, quoted.end
            if not key:
                raise self.error(quoted.span, "empty key", "a non-empty key")
        if entity == "attributes":
            key = self.attribute(token, key, bare=False)
        return _Target(entity, key, (token.start, end))

    def attribute(self, token: _Token, name: str, *, bare: bool = True) -> str:
        canonical = ATTRIBUTE_ALIASES.get(name.lower())
        if canonical is not None:
            return canonical
        expected = f"an attribute: {', '.join((*TEXT_ATTRIBUTES, *TIME_ATTRIBUTES))}"
        if bare:
            expected += f"; for a metric, param or tag write {_entity_examples(name)}"
        span = (token.start if bare else token.end - len(name), token.end)
        suggestions = close_matches(name.lower(), ATTRIBUTE_ALIASES)
        raise self.error(span, f"unknown attribute '{name}'", expected, suggestions)

    def operator(self) -> str:
        token = self.advance()
        if token.kind == "op":
            return SYMBOL_OPS[token.text]
        word = token.keyword()
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            negated = self.advance()
            if negated.keyword() not in ("LIKE", "ILIKE", "IN"):
                raise self.unexpected(negated, "IN, LIKE or ILIKE after NOT")
            return f"NOT {negated.keyword()}"
        if word == "IS":
            negation = "NOT " if self.accept("NOT") else ""
            if not self.accept("NULL"):
                raise self.unexpected(self.peek(), f"NULL after IS {negation}".rstrip())
            return f"IS {negation}NULL"
        raise self.unexpected(token, _EXPECT_OPERATOR)

    def check_operator(self, target: _Target, op: str, token: _Token) -> None:
        if target.kind == "text" and op in ORDERING_OPS:
            why = " (params are stored as strings)" if target.entity == "params" else ""
            problem = f"{target.label} is text{why}, so it cannot be compared with {op}"
            raise self.error(token.span, problem, _EXPECT_TEXT_OPERATOR)
        if target.kind != "text" and op in LIKE_OPS:
            problem = f"{target.label} is a number, so it cannot be matched with {op}"
            raise self.error(token.span, problem, _EXPECT_NUMBER_OPERATOR)

    def value_list(self) -> list[_Token]:
        opening = self.advance()
        if opening.kind != "(":
            raise self.unexpected(opening, "'(' starting a list of values, e.g. IN ('a', 'b')")
        tokens = [self.value()]
        while self.accept_punctuation(","):
            tokens.append(self.value())
            if len(tokens) > MAX_LIST_VALUES:
                raise self.error(tokens[-1].span, f"more than {MAX_LIST_VALUES} values")
        if not self.accept_punctuation(")"):
            raise self.unexpected(self.peek(), "',' or ')' to end the list")
        return tokens

    def accept_punctuation(self, kind: TokenKind) -> bool:
        if self.peek().kind == kind:
            self.advance()
            return True
        return False

    def value(self) -> _Token:
        token = self.advance()
        if token.kind in ("number", "string"):
            return token
        if token.keyword() == "NULL":
            expected = "a value; test for a missing key with IS NULL or IS NOT NULL"
            raise self.error(token.span, "NULL is not a value", expected)
        hint = f"; put text in quotes: '{token.text}'" if token.kind == "word" else ""
        raise self.unexpected(token, _EXPECT_VALUE + hint)

    def convert(self, target: _Target, op: str, token: _Token) -> Scalar:
        if target.kind == "text":
            # Numbers compared with text are compared as written: params.depth = 5 is '5'.
            if op in LIKE_OPS and _ends_with_escape(token.text):
                expected = "a character after it: a backslash escapes % and _, two make one"
                raise self.error(
                    token.span, "a LIKE pattern cannot end with a lone backslash", expected
                )
            return token.text
        if token.kind == "string":
            hint = " (remove the quotes)" if _NUMBER.fullmatch(token.text.strip()) else ""
            problem = f"{target.label} is a number and cannot be compared with a string{hint}"
            expected = "a number such as 0.5, -1e-3, inf or nan"
            if target.kind == "time":
                expected = "a number of Unix milliseconds"
            raise self.error(token.span, problem, expected)
        number = float(token.text)
        if target.kind == "time":
            return self.time(token, number)
        if math.isnan(number) and op in ORDERING_OPS:
            raise self.error(token.span, f"NaN cannot be compared with {op}", "= nan or != nan")
        return number

    def time(self, token: _Token, number: float) -> int | float:
        digits = token.text.lstrip("+")
        if digits.lstrip("-").isdigit() and len(digits) < 25:
            exact: int | float = int(digits)  # exact, even beyond 2**53
        elif math.isfinite(number) and number.is_integer():
            exact = int(number)
        else:
            exact = number
        if not math.isfinite(exact) or abs(exact) >= 2**63:
            expected = "a finite number of Unix milliseconds"
            raise self.error(token.span, f"{token.text} is not a time", expected)
        return exact


def _entity_examples(name: str) -> str:
    return f"metrics.{name}, params.{name} or tags.{name}"


def _ends_with_escape(pattern: str) -> bool:
    return (len(pattern) - len(pattern.rstrip("\\"))) % 2 == 1


def parse(source: str, subject: str = "filter") -> FilterNode | None:
    """Parse a whole filter; ``None`` when it is empty or only whitespace."""
    if not source.strip():
        return None
    return _Parser(source, subject).filter()


def parse_order_item(source: str) -> tuple[Entity, str, bool]:
    """Parse ``"<identifier> [ASC|DESC]"`` into ``(entity, key, descending)``."""
    parser = _Parser(source, "order_by item")
    target = parser.target()
    direction = parser.advance()
    if direction.kind == "end" or direction.keyword() in ("ASC", "DESC"):
        parser.expect_end("the end of the order_by item")
        return target.entity, target.key, direction.keyword() == "DESC"
    suggestions = close_matches(direction.text.lower(), ("asc", "desc"), limit=1)
    raise parser.error(
        direction.span,
        f"unexpected {direction.describe()}",
        "ASC, DESC or the end of the order_by item",
        [s.upper() for s in suggestions],
    )
