"""A bounded atheris run of every fuzz target: no crash within a fixed number of inputs."""
import pytest

from tests.fuzz import campaign
from tests.fuzz.targets import TARGETS

# inputs per target, sized to a few seconds each (the config loader parses with libyang)
RUNS = {"wire": 200000, "config": 1000}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_bounded_run_finds_no_crash(name, tmp_path, monkeypatch):
    monkeypatch.setattr(campaign, "ARTIFACTS", tmp_path)
    result = campaign.run(name, runs=RUNS[name])
    assert result["returncode"] == 0, result["log"][-3000:]
    assert result["crashes"] == []
    assert result["execs"] >= RUNS[name]
    assert result["edges"] > 0
