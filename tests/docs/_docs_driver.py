"""Run the code blocks of one docs file in order, like a notebook; a script, not a module.

``python _docs_driver.py BLOCKS.json RESULTS.json`` runs in the docs' scratch folder
(the working directory). Python blocks share one namespace in this process; shell blocks
run in ``bash -euo pipefail``. After the first failure the rest are not run. For each
block it writes ``{"ok", "error", "stdout"}``; ``test_docs`` turns them into tests.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import subprocess
import sys
import time
import tokenize
import traceback
import types
from pathlib import Path
from typing import Any

import _docs_fixtures

NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"


def matches(expected: str, actual: str) -> bool:
    """Does ``actual`` read as ``expected``? ``...`` matches anything; a number shown with
    N decimals matches any number that rounds to it; trailing spaces do not count."""

    def clean(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")

    expected, actual = clean(expected), clean(actual)
    pattern, shown = "", []
    tokens = [token for token in re.split(rf"(\.\.\.|{NUMBER})", expected) if token]
    for i, token in enumerate(tokens):
        if token == "...":
            pattern += ".*?"
        elif re.fullmatch(NUMBER, token):
            pattern += f"({NUMBER})"
            truncated = i + 1 < len(tokens) and tokens[i + 1] == "..."  # 1.43...: a prefix
            shown.append((token, truncated))
        else:
            pattern += re.escape(token)
    found = re.fullmatch(pattern, actual, re.DOTALL)
    if not found:
        return False
    for (want, truncated), got in zip(shown, found.groups(), strict=True):
        if truncated:
            if not got.startswith(want):
                return False
        elif "." in want or "e" in want.lower():
            decimals = len(want.partition(".")[2].split("e")[0].split("E")[0])
            if round(float(got), decimals) != round(float(want), decimals):
                return False
        elif got != want:
            return False
    return True


class Tee(io.TextIOBase):
    """Writes to the real stream and keeps a copy."""

    def __init__(self, real: Any) -> None:
        self.real, self.copy = real, io.StringIO()

    def write(self, text: str) -> int:
        self.real.write(text)
        return self.copy.write(text)

    def flush(self) -> None:
        self.real.flush()


def expected_values(code: str) -> dict[int, str]:
    """``{line: text}`` for every ``# -> text`` comment (line numbers of the block)."""
    found: dict[int, str] = {}
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    for token in tokens:
        if token.type == tokenize.COMMENT and token.string.startswith("# -> "):
            found[token.start[0]] = token.string.removeprefix("# -> ")
    return found


def code_lines(code: str) -> set[int]:
    """The lines holding code (not only a comment or blank)."""
    lines: set[int] = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type not in skip and token.type != tokenize.ENDMARKER:
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines


def run_python(block: dict[str, Any], namespace: dict[str, Any]) -> None:
    """Run a Python block statement by statement; check ``# -> value`` comments."""
    code, first, path = block["code"], block["line"] + 1, block["path"]
    if "file" in block["options"]:  # saved as that file: its lines are the file's
        path, first = str(Path(block["options"]["file"]).resolve()), 1
    tree = ast.parse(code, filename=path)
    expected, with_code = expected_values(code), code_lines(code)
    for node in tree.body:
        end = node.end_lineno or node.lineno
        want = expected.get(end)
        if want is None and end + 1 in expected and end + 1 not in with_code:
            want = expected[end + 1]
        ast.increment_lineno(node, first - 1)  # tracebacks show the line in the doc
        if isinstance(node, ast.Expr):
            value = eval(compile(ast.Expression(node.value), path, "eval"), namespace)
            if want is not None and not matches(want, repr(value)):
                raise DocMismatch(
                    f"{block['doc']}:{end + first - 1}: the doc shows {want}, the code gives "
                    f"{value!r}"
                )
        else:
            if want is not None:
                raise DocMismatch(
                    f"{block['doc']}:{end + first - 1}: '# -> ' after a "
                    "statement that is not an expression"
                )
            exec(compile(ast.Module([node], []), path, "exec"), namespace)


def run_shell(block: dict[str, Any]) -> None:
    """Run a shell block (``console``: its ``$ `` lines) in ``bash -euo pipefail``."""
    code = block["code"]
    if block["kind"] == "console":
        commands, keep = [], False
        for line in code.splitlines():
            if line.startswith("$ "):
                commands.append(line[2:])
                keep = line.endswith("\\")
            elif keep:
                commands.append(line)
                keep = line.endswith("\\")
        code = "\n".join(commands) + "\n"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise ShellFailed(result.returncode, result.stderr)


class DocMismatch(AssertionError):
    """A block gives another value than its doc shows."""


class ShellFailed(Exception):
    """A shell block exited non-zero."""

    def __init__(self, code: int, stderr: str) -> None:
        super().__init__(f"exit code {code}\n{stderr[-3000:]}")
        self.code = code


def failed_as_expected(block: dict[str, Any], err: BaseException) -> str | None:
    """``None`` when ``err`` is the failure the block expects, else what is wrong."""
    want = block["options"]["expect-fail"]
    if not want:
        return None
    if isinstance(err, ShellFailed):
        return None if str(err.code) == want else f"expected exit code {want}, got {err.code}"
    names = {cls.__name__ for cls in type(err).__mro__}
    return None if want in names else f"expected {want}, got {type(err).__name__}: {err}"


def describe(block: dict[str, Any], err: BaseException) -> str:
    """The error, its traceback starting at the doc's own lines (not this driver's)."""
    if isinstance(err, ShellFailed):
        return f"{block['id']}: the shell block failed with {err}"
    if isinstance(err, DocMismatch):
        return str(err)
    tb = err.__traceback__
    files = {block["path"], str(Path(block["options"].get("file", block["path"])).resolve())}
    while tb is not None and tb.tb_frame.f_code.co_filename not in files:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(err), err, tb or err.__traceback__))


def run_block(block: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Any]:
    """Run one block; ``{"ok", "error", "stdout"}``."""
    expect_fail = "expect-fail" in block["options"]
    tee = Tee(sys.stdout)
    error: str | None = None
    try:
        with contextlib.redirect_stdout(tee):
            for name in block["fixtures"]:
                _docs_fixtures.FIXTURES[name](Path.cwd())
            if "file" in block["options"]:
                target = Path(block["options"]["file"])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block["code"])
            if block["kind"] == "python":
                run_python(block, namespace)
            elif block["kind"] is not None:
                run_shell(block)
    except BaseException as err:
        if not expect_fail:
            error = describe(block, err)
        elif (wrong := failed_as_expected(block, err)) is not None:
            error = f"{block['id']}: fails, but not as expected: {wrong}"
    else:
        if expect_fail:
            error = f"{block['id']}: marked expect-fail, but it succeeded"
    output = tee.copy.getvalue()
    expected = block["expected_output"]
    if error is None and expected is not None and not matches(expected, output):
        error = (
            f"{block['id']}: the output differs from the doc's.\n--- doc ---\n"
            f"{expected}\n--- printed ---\n{output}"
        )
    return {"ok": error is None, "error": error, "stdout": output}


def main() -> None:
    blocks = json.loads(Path(sys.argv[1]).read_text())
    # The blocks run as the __main__ module, like a script: functions defined in them
    # pickle by reference, and their source is found in the doc (compiled with its path).
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module
    namespace = module.__dict__
    results: list[dict[str, Any]] = []
    for block in blocks:
        print(f"==> {block['id']}", flush=True)
        started = time.perf_counter()
        result = run_block(block, namespace)
        result["seconds"] = round(time.perf_counter() - started, 2)
        results.append(result)
        Path(sys.argv[2]).write_text(json.dumps(results))
        if not result["ok"]:
            break


if __name__ == "__main__":
    main()
