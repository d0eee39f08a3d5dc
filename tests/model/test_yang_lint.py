"""Every YANG module we ship passes pyang --strict and yanglint without a single message."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nf.model import module_files, yang_dir

PYANG = [sys.executable, "-m", "pyang"]
OUR_MODULES = sorted(yang_dir().glob("*.yang"))
ALL_MODULES = module_files()


def test_our_modules_are_all_named_dmm_nf() -> None:
    names = [p.stem for p in OUR_MODULES]
    assert "dmm-nf" in names
    assert all(name == "dmm-nf" or name.startswith("dmm-nf-") for name in names), names


def pyang(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PYANG, "--path", f"{yang_dir()}:{yang_dir() / 'ietf'}", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("module", ALL_MODULES, ids=lambda p: p.stem)
def test_pyang_strict_is_silent(module: Path) -> None:
    result = pyang("--strict", str(module))
    assert result.returncode == 0 and not result.stdout and not result.stderr, \
        result.stdout + result.stderr


@pytest.mark.parametrize("module", OUR_MODULES, ids=lambda p: p.stem)
def test_pyang_lint_is_silent_on_our_modules(module: Path) -> None:
    """RFC 8407 guidelines as pyang checks them (canonical order, descriptions, revisions)."""
    result = pyang("--strict", "--lint", str(module))
    assert result.returncode == 0 and not result.stdout and not result.stderr, \
        result.stdout + result.stderr


@pytest.mark.parametrize("module", ALL_MODULES, ids=lambda p: p.stem)
def test_yanglint_is_silent(module: Path) -> None:
    # dmm-nf uses identities of dmm-nf-types in defaults, so that module must be implemented too.
    companions = [] if module.stem.startswith("ietf-") or module.stem.startswith("iana-") else \
        [str(p) for p in OUR_MODULES]
    result = subprocess.run(
        ["yanglint", "-p", str(yang_dir()), "-p", str(yang_dir() / "ietf"), *companions,
         str(module)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout and not result.stderr, \
        result.stdout + result.stderr


def test_lint_reports_a_broken_module(tmp_path: Path) -> None:
    """The checks above would notice a problem: an undefined type fails both tools."""
    broken = tmp_path / "dmm-nf-broken.yang"
    broken.write_text(
        'module dmm-nf-broken { yang-version 1.1; namespace "urn:x"; prefix x;\n'
        '  leaf a { type no-such-type; description "d"; } }\n')
    assert pyang("--strict", str(broken)).returncode != 0
    linted = subprocess.run(["yanglint", str(broken)], capture_output=True, text=True, timeout=60)
    assert linted.returncode != 0 and "no-such-type" in linted.stderr
