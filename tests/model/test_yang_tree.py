"""docs/yang/*.tree is what pyang renders from the modules now."""
from __future__ import annotations

from pathlib import Path

import pytest

from mgmt import yangtree


def test_committed_trees_are_current() -> None:
    stale = yangtree.stale_trees()
    assert not stale, f"out of date: {stale}; run: python -m mgmt.yangtree --write"


def test_main_tree_shows_config_and_state_side_by_side() -> None:
    text = (yangtree.DOCS_DIR / "dmm-nf.tree").read_text()
    assert "+--rw dmm-nf!" in text
    assert "+--ro binding-cache" in text
    assert "rpcs:" in text and "notifications:" in text


def test_check_notices_an_edited_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path, text in yangtree.current_trees().items():
        (tmp_path / path.name).write_text(text + "edited\n")
    monkeypatch.setattr(yangtree, "DOCS_DIR", tmp_path)
    assert yangtree.main(["--check"]) == 1
    assert yangtree.main(["--write"]) == 0
    assert yangtree.main(["--check"]) == 0
