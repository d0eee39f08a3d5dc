"""The lab's process handling (nf/lab/functions.py) without namespaces: readiness and death."""
from __future__ import annotations

import subprocess

import pytest

from nf.lab import LabError, Topology
from nf.lab.configs import METRICS_PORT, NETCONF_PORT
from nf.lab.functions import Functions


@pytest.fixture
def functions(tmp_path) -> Functions:
    return Functions(Topology("dmmu-"), tmp_path)


def test_a_starting_process_whose_command_line_is_not_yet_dmm_nf_is_waited_for_not_declared_dead(functions):
    # While `ip netns exec` execs dmm-nf, /proc/PID/cmdline reads empty for a moment: only a
    # process that is gone has died.
    process = subprocess.Popen(["sleep", "30"])
    try:
        (functions.run_dir / "lma.pid").write_text(str(process.pid))
        functions._listening = lambda host: {NETCONF_PORT, METRICS_PORT}
        functions.wait_ready("lma", timeout=1)
        assert functions.pid("lma") is None  # not ours by its command line: `pid` keeps that check
    finally:
        process.kill()
        process.wait()


def test_a_process_that_exits_during_start_is_reported_with_its_log_tail(functions):
    process = subprocess.Popen(["true"])
    process.wait()
    (functions.run_dir / "mag1.pid").write_text(str(process.pid))
    (functions.run_dir / "mag1.log").write_text("config: no such interface core\n")
    functions._listening = lambda host: set()
    with pytest.raises(LabError, match=r"mag1: dmm-nf exited during start; .*\n.*no such interface core"):
        functions.wait_ready("mag1", timeout=5)
