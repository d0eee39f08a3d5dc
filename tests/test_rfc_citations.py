"""Every `RFC NNNN §x.y` the project cites names a section that RFC has.

The section headings of the RFCs in the shared reference (../shared/reference/rfc, see its
README) are kept in tests/rfc_sections.txt, one `RFC section title` a line, so the check runs
on a clone without the texts; when the texts are there, the file is checked against them.
Regenerate it with `python -m tests.test_rfc_citations --write`.

What is checked: every citation in the sources, YANG modules, docs and tests (`RFC 5213 §5.3.1`,
also chained: `RFC 8341 §3.2.5, §3.2.8`, `RFC 5847 §3.3/§3.4`, `§3.2.5-§3.2.8`), and the §
column of each table of docs/conformance.md against the RFC(s) its heading names. A citation of
an RFC not in the reference is not checked. That the section says what the citation claims is
for a reader; this test catches the numbers that cannot be right.
"""
from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS_FILE = ROOT / "tests" / "rfc_sections.txt"
REFERENCE = ROOT.parent / "shared" / "reference" / "rfc"
STATEMENT = ROOT / "docs" / "conformance.md"
SCANNED = ("nf", "mgmt", "yang", "exporters", "tests", "docs", "scripts", "README.md", "Makefile")
SUFFIXES = {".py", ".yang", ".md", ".xml", ".yml", ".yaml", ".json", ".sh", ".toml", ".txt", ""}

SECTION = r"(?:\d+|[A-Z])(?:\.\d+)*"
# A section heading of an RFC text: at the start of the line, "5.3.1.  Title", "A.1.  Title",
# "Appendix A.  Title" or "Appendix A: Title".
HEADING = re.compile(rf"^(?:Appendix )?({SECTION})[.:]?\s+(\S.*?)\s*$")
# "RFC 5213 §5.3.1" (or "§5.3.1 #4"), and the sections chained to it: ", §x", "/§x", " / §x",
# "-§x", " and §x", " or §x".
_REF = rf"§{SECTION}(?: #\d+(?:-#?\d+)?)?"
CITATION = re.compile(rf"RFC ?(\d{{4}}) ({_REF}(?:\s*(?:,|/|-|–|and|or)\s*{_REF})*)")
CITED_SECTION = re.compile(rf"§({SECTION})")
TABLE_HEADING = re.compile(r"^#{2,3} ")
RFC_NUMBER = re.compile(r"RFC (\d{4})")


def headings_of(text: str) -> list[tuple[str, str]]:
    """(section, title) of every heading of an RFC's plain text, in order."""
    found = []
    for line in text.splitlines():
        match = HEADING.match(line)
        if match:
            found.append(match.groups())
    return found


def sections_from_reference(reference: Path = REFERENCE) -> str:
    lines = []
    for path in sorted(reference.glob("rfc*.txt"), key=lambda p: int(p.stem[3:])):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines += [f"{path.stem[3:]} {section} {title}" for section, title in headings_of(text)]
    return "\n".join(lines) + "\n"


def known_sections(text: str) -> dict[str, set[str]]:
    known: dict[str, set[str]] = defaultdict(set)
    for line in text.splitlines():
        rfc, section, _ = line.split(" ", 2)
        known[rfc].add(section)
    return known


def citations_in(text: str) -> list[tuple[int, str, str]]:
    """(line, RFC, section) of every `RFC NNNN §x` citation and the sections chained to it."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in CITATION.finditer(line):
            found += [(number, match.group(1), s) for s in CITED_SECTION.findall(match.group(2))]
    return found


def statement_sections(text: str) -> list[tuple[int, tuple[str, ...], str]]:
    """(line, RFCs of the table's heading, section) of each § cell of docs/conformance.md."""
    found = []
    rfcs: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        if TABLE_HEADING.match(line):
            rfcs = tuple(RFC_NUMBER.findall(line))
            continue
        if not rfcs or not line.startswith("|"):
            continue
        cell = line.strip().strip("|").split("|")[0].strip()
        cell = re.sub(r"#\d+", "", cell).replace("App.", "")
        found += [(number, rfcs, s) for s in re.findall(rf"(?<![\w.]){SECTION}(?![\w])", cell)]
    return found


def _scanned_files():
    for name in SCANNED:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and file.suffix in SUFFIXES and file != SECTIONS_FILE \
                    and "__pycache__" not in file.parts:
                yield file


def _problems(known: dict[str, set[str]], files) -> list[str]:
    problems = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        name = file.relative_to(ROOT) if file.is_relative_to(ROOT) else file
        problems += [f"{name}:{line}: RFC {rfc} has no §{section}"
                     for line, rfc, section in citations_in(text)
                     if rfc in known and section not in known[rfc]]
    return problems


def test_every_cited_section_exists_in_its_rfc():
    known = known_sections(SECTIONS_FILE.read_text(encoding="utf-8"))
    problems = _problems(known, _scanned_files())
    assert not problems, "citations of sections the RFC does not have:\n" + "\n".join(problems)


def test_every_section_of_the_conformance_statement_exists_in_its_rfc():
    known = known_sections(SECTIONS_FILE.read_text(encoding="utf-8"))
    problems = [f"docs/conformance.md:{line}: {' / '.join('RFC ' + r for r in rfcs)} has no §{section}"
                for line, rfcs, section in statement_sections(STATEMENT.read_text(encoding="utf-8"))
                if any(r in known for r in rfcs) and not any(section in known[r] for r in rfcs)]
    assert not problems, "\n".join(problems)


def test_the_kept_headings_are_those_of_the_reference_texts():
    if not REFERENCE.is_dir():
        pytest.skip(f"the RFC texts are not at {REFERENCE}; tests/rfc_sections.txt is used as kept")
    assert SECTIONS_FILE.read_text(encoding="utf-8") == sections_from_reference(), \
        "tests/rfc_sections.txt is stale: python -m tests.test_rfc_citations --write"


def test_the_check_finds_a_wrong_section_in_a_chain_and_in_a_table(tmp_path):
    known = known_sections("5213 5.3.1 Processing Proxy Binding Updates\n5213 5.5 Timestamp Option\n"
                           "5847 3.3 Heartbeat Message\n")
    source = tmp_path / "role.py"
    # (split so that this file holds no wrong citation itself)
    cited = "RFC 5213 §5.3.1 #4, " "§5.3.7 and RFC 5847 §3.3/" "§3.9; RFC 9999 §1.2\nRFC 5213 §5.5.\n"
    source.write_text(cited.replace("RFC ", "# RFC "), encoding="utf-8")
    assert _problems(known, [source]) == [f"{source}:1: RFC 5213 has no §5.3.7", f"{source}:1: RFC 5847 has no §3.9"]
    table = "## RFC 5213 — LMA\n| § | r | LMA | met | t |\n| 5.3.1 #4, 5.6 | r | LMA | met | t |\n"
    assert [(line, s) for line, _, s in statement_sections(table)] == [(3, "5.3.1"), (3, "5.6")]


def test_headings_are_read_from_the_start_of_a_line_only():
    text = ("   5.3.1.  Processing ..........  25\n"
            "5.3.1.  Processing Proxy Binding Updates\n"
            "   text that is not a heading\n"
            "A.1.  An Appendix\n"
            "Appendix B: Another\n")
    assert headings_of(text) == [("5.3.1", "Processing Proxy Binding Updates"), ("A.1", "An Appendix"),
                                 ("B", "Another")]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        SECTIONS_FILE.write_text(sections_from_reference(), encoding="utf-8")
    else:
        sys.exit("usage: python -m tests.test_rfc_citations --write")
