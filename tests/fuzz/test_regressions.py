"""Every stored fuzz input replays through its target with the documented outcome."""
from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

INPUTS = sorted((Path(__file__).parent / "regressions").glob("*/*"))


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_regression_input_is_handled(path):
    TARGETS[path.parent.name](path.read_bytes())


def test_every_target_has_seed_inputs():
    assert {p.parent.name for p in INPUTS} == set(TARGETS)
