"""The shipped systemd unit: its command is the one `dmm-nf` takes, and the function runs with
exactly the capabilities the unit leaves it (raw Mobility Header socket, kernel data plane,
NETCONF on port 830)."""
from __future__ import annotations

import configparser
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mgmt.daemon import build_parser
from tests.e2e.test_daemon import EXAMPLES, wait_for

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "scripts" / "systemd" / "dmm-nf@.service"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    return parser


def test_the_unit_starts_dmm_nf_run_with_a_config_and_a_state_directory_it_accepts():
    service = unit()["Service"]
    for key in ("ExecStartPre", "ExecStart"):
        argv = shlex.split(service[key].replace("%i", "lma1"))
        assert argv[0].endswith("/.venv/bin/dmm-nf")
        args = build_parser().parse_args(argv[1:])
        assert str(getattr(args, "config", None) or args.file) == "/etc/dmm-nf/lma1.xml"
    run = build_parser().parse_args(shlex.split(service["ExecStart"].replace("%i", "lma1"))[1:])
    assert run.command == "run" and str(run.state_dir) == "/var/lib/dmm-nf/lma1"
    assert service["RestartPreventExitStatus"] == "2"  # a refused configuration is not retried


@pytest.mark.root
def test_the_function_runs_with_only_the_capabilities_the_unit_grants(tmp_path):
    caps = unit()["Service"]["CapabilityBoundingSet"].split()
    assert caps == ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"]
    namespace = f"dmmcap{Path(tmp_path).name[-6:]}"
    config = (EXAMPLES / "lma.xml").read_text()
    config = config.replace("<type>dmmt:udp</type>", "<type>dmmt:raw-ipv6</type>").replace(
        "<udp-port>5436</udp-port>", "").replace("<dataplane>\n    <backend>dmmt:memory</backend>",
                                                "<dataplane>\n    <backend>dmmt:linux</backend>")
    assert "<backend>dmmt:linux</backend>" in config, "the example changed: the test no longer sets the kernel data plane"
    path = tmp_path / "lma.xml"
    path.write_text(config)
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    process = None
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        bounding = ",".join(["-all"] + ["+" + c.removeprefix("CAP_").lower() for c in caps])
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "setpriv", f"--bounding-set={bounding}", sys.executable, "-m",
             "mgmt.daemon", "run", "--config", str(path), "--state-dir", str(tmp_path / "state"),
             "--netconf-port", "830", "--metrics-port", "9430"], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def listening() -> bool:  # NETCONF's TCP socket and the raw Mobility Header socket (protocol 135)
            out = subprocess.run(["ip", "netns", "exec", namespace, "ss", "-Hlntw"], capture_output=True,
                                 text=True).stdout
            return ":830 " in out and ":135 " in out
        wait_for(lambda: process.poll() is not None or listening(), what="NETCONF on 830 and the raw socket")
        assert process.poll() is None, process.stdout.read()
        status = Path(f"/proc/{process.pid}/status").read_text()  # ip netns exec and setpriv exec the daemon
        bounded = int(next(line for line in status.splitlines() if line.startswith("CapBnd:")).split()[1], 16)
        assert bounded == (1 << 12) | (1 << 13) | (1 << 10)  # CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=20)
        subprocess.run(["ip", "netns", "del", namespace], check=False)
