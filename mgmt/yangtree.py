"""Tree diagrams (RFC 8340) of our YANG modules, kept in docs/yang/.

    python -m mgmt.yangtree --write   # regenerate docs/yang/<module>.tree
    python -m mgmt.yangtree --check   # exit 1 when a committed tree is out of date
    python -m mgmt.yangtree           # print the trees
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from nf.model import search_path, yang_dir

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "yang"


def our_modules() -> list[Path]:
    """The dmm-nf* module files (IETF modules have their trees in their RFCs)."""
    return sorted(yang_dir().glob("dmm-nf*.yang"))


def tree_file(module: Path) -> Path:
    return DOCS_DIR / f"{module.stem}.tree"


def render(module: Path) -> str:
    """pyang's tree diagram of `module`."""
    result = subprocess.run(
        [sys.executable, "-m", "pyang", "-f", "tree", "--path", search_path(), str(module)],
        capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"pyang failed on {module.name}: {result.stderr.strip()}")
    return result.stdout


def current_trees() -> dict[Path, str]:
    """Tree file -> diagram, for every module with schema nodes (a types-only module has none)."""
    trees = {tree_file(module): render(module) for module in our_modules()}
    return {path: text for path, text in trees.items() if text}


def stale_trees() -> list[Path]:
    """Committed tree files that differ from what pyang renders now (or are missing)."""
    return [path for path, text in current_trees().items()
            if not path.is_file() or path.read_text() != text]


def write_trees() -> list[Path]:
    DOCS_DIR.mkdir(parents=True, exist_ok=True)
    trees = current_trees()
    for path, text in trees.items():
        path.write_text(text)
    return list(trees)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mgmt.yangtree", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write docs/yang/<module>.tree")
    mode.add_argument("--check", action="store_true", help="fail when a committed tree is stale")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_trees():
            print(f"wrote {path}")
        return 0
    if args.check:
        stale = stale_trees()
        for path in stale:
            print(f"{path}: out of date; run: python -m mgmt.yangtree --write", file=sys.stderr)
        return 1 if stale else 0
    for text in current_trees().values():
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
