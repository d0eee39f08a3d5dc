"""docs/conformance.md: every row of the statement names tests that exist.

The test ids are collected from the test files themselves (their module-level `test_*`
functions and the `test_*` methods of their `Test*` classes), so the check needs no pytest
collection run and names exactly the rows that are wrong.
"""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATEMENT = ROOT / "docs" / "conformance.md"
TEST_ID = re.compile(r"`(tests/[\w/]+\.py(?:::\w+)+)`")
STATUSES = ("met", "deviation: ", "not applicable: ")


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every table row under a heading that is not the legend."""
    rows = []
    in_statement = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            in_statement = True
        if not in_statement or not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] in ("§", "") or set(cells[0]) <= {"-"}:
            continue  # the header and its rule
        rows.append((number, cells))
    return rows


@functools.cache
def _tests_in(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.update(f"{node.name}::{item.name}" for item in node.body
                         if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                         and item.name.startswith("test"))
    return frozenset(names)


def _exists(test_id: str) -> bool:
    path, _, name = test_id.partition("::")
    file = ROOT / path
    return file.is_file() and name in _tests_in(file)


def _problems(text: str) -> list[str]:
    problems = []
    for number, cells in _rows(text):
        if len(cells) != 5:
            problems.append(f"line {number}: {len(cells)} cells, a row has 5 (§, requirement, role, status, test)")
            continue
        status, tests = cells[3], cells[4]
        ids = TEST_ID.findall(tests)
        if not status.startswith(STATUSES):
            problems.append(f"line {number}: status {status!r} is not met / deviation: … / not applicable: …")
        if not status.startswith("not applicable") and not ids:
            problems.append(f"line {number}: a {status.split(':')[0]!r} row names no test")
        if not ids and tests != "—":
            problems.append(f"line {number}: test cell {tests!r} holds no `tests/…py::name`")
        problems += [f"line {number}: {test_id} does not exist" for test_id in ids if not _exists(test_id)]
    return problems


def test_every_row_names_tests_that_exist():
    problems = _problems(STATEMENT.read_text(encoding="utf-8"))
    assert not problems, "docs/conformance.md:\n" + "\n".join(problems)


def test_the_check_reports_a_missing_test_a_row_without_test_and_a_bad_status():
    text = "\n".join([
        "## RFC 0000", "| § | requirement | role | status | test |", "|---|---|---|---|---|",
        "| 1 | a rule | LMA | met | `tests/test_conformance_statement.py::test_no_such_test` |",
        "| 2 | a rule | LMA | met | — |",
        "| 3 | a rule | LMA | done | `tests/test_conformance_statement.py::test_every_row_names_tests_that_exist` |",
        "| 4 | a rule | LMA | not applicable: no IPv4 | — |",
    ])
    problems = _problems(text)
    assert problems == [
        "line 4: tests/test_conformance_statement.py::test_no_such_test does not exist",
        "line 5: a 'met' row names no test",
        "line 6: status 'done' is not met / deviation: … / not applicable: …",
    ]
