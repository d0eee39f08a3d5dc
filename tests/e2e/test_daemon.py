"""`dmm-nf run`: the process starts on the example configurations, serves NETCONF and
metrics, exits cleanly on SIGTERM, and refuses a bad configuration with one line and exit 2."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from ncclient import manager
from ncclient.transport import session as nc_session

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "yang" / "examples"
nc_session.TICK = 0.005  # ncclient polls its reader every TICK seconds; 0.1 s would slow every RPC


def free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def _satisfied(result) -> bool:
    """None, False and empty collections mean "not yet"; anything else (an XML element
    included, whatever its number of children) is the awaited result."""
    if result is None or result is False:
        return False
    return not isinstance(result, (list, tuple, dict, set, str)) or len(result) > 0


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if _satisfied(result):
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def dmm_nf(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mgmt.daemon", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def ready(port: int) -> bool:
    """/readyz answers 200 once the runtime, its transport and the NETCONF server are up."""
    try:
        with urllib.request.urlopen(f"http://[::1]:{port}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def lma(tmp_path):
    netconf_port, metrics_port = free_port(), free_port()
    proc = dmm_nf("run", "--config", str(EXAMPLES / "lma.xml"), "--state-dir", str(tmp_path / "lma"),
                  "--netconf-port", str(netconf_port), "--metrics-port", str(metrics_port))
    try:
        wait_for(lambda: proc.poll() is not None or ready(metrics_port), what="the LMA's /readyz")
        assert proc.poll() is None, proc.communicate()[1]
        yield proc, netconf_port, metrics_port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)


def test_lma_example_starts_serves_netconf_and_metrics_and_stops_on_sigterm(lma):
    proc, netconf_port, metrics_port = lma
    with manager.connect(host="::1", port=netconf_port, username="admin", password="admin",
                         hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=10) as m:
        reply = m.get(filter=("subtree", '<dmm-nf xmlns="urn:dmm-nf:yang:dmm-nf"><node/></dmm-nf>'))
        assert "<name>lma1</name>" in reply.xml
        assert "<restart-counter>0</restart-counter>" in reply.xml
    with urllib.request.urlopen(f"http://[::1]:{metrics_port}/metrics", timeout=5) as r:
        body = r.read().decode()
    assert 'dmm_info{' in body and 'role="lma"' in body
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_restart_increments_the_restart_counter_seen_over_netconf(tmp_path):
    state = tmp_path / "lma"
    for expected in (0, 1):
        netconf_port, metrics_port = free_port(), free_port()
        proc = dmm_nf("run", "--config", str(EXAMPLES / "lma.xml"), "--state-dir", str(state),
                      "--netconf-port", str(netconf_port), "--metrics-port", str(metrics_port))
        try:
            wait_for(lambda: proc.poll() is not None or ready(metrics_port), what="/readyz")
            with manager.connect(host="::1", port=netconf_port, username="admin", password="admin",
                                 hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=10) as m:
                reply = m.get(filter=("subtree", '<dmm-nf xmlns="urn:dmm-nf:yang:dmm-nf"><node>'
                                                 '<restart-counter/></node></dmm-nf>'))
                assert f"<restart-counter>{expected}</restart-counter>" in reply.xml
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)


@pytest.mark.parametrize("name", sorted(p.name for p in (EXAMPLES / "invalid").glob("*.xml")))
def test_invalid_config_is_one_line_and_exit_2(name, tmp_path):
    proc = dmm_nf("run", "--config", str(EXAMPLES / "invalid" / name), "--state-dir", str(tmp_path))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dmm-nf: error: ") and name in lines[0]
    assert "Traceback" not in err


def test_missing_config_file_is_one_line_and_exit_2(tmp_path):
    proc = dmm_nf("run", "--config", str(tmp_path / "nope.xml"), "--state-dir", str(tmp_path))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert len(err.strip().splitlines()) == 1 and "nope.xml" in err


def test_check_config_accepts_every_example():
    for example in sorted(EXAMPLES.glob("*.xml")):
        proc = dmm_nf("check-config", str(example))
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert out.strip() == f"{example}: valid"


def test_bad_port_argument_is_a_usage_error():
    proc = dmm_nf("run", "--config", str(EXAMPLES / "lma.xml"), "--netconf-port", "70000")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "port out of range" in err


def test_help_lists_the_commands():
    proc = dmm_nf("--help")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "run" in out and "check-config" in out


def _variant(tmp_path, replacements: dict[str, str]) -> Path:
    text = (EXAMPLES / "lma.xml").read_text()
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "lma-variant.xml"
    path.write_text(text)
    return path


def test_a_missing_data_plane_interface_stops_the_start_with_its_path(tmp_path):
    config = _variant(tmp_path, {"<dataplane>\n    <backend>dmmt:memory</backend>":
                                 "<dataplane><backend>dmmt:linux</backend><core-interface>nosuch0</core-interface>"})
    proc = dmm_nf("run", "--config", str(config), "--state-dir", str(tmp_path / "state"))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [f"dmm-nf: error: {config}: /dmm-nf:dmm-nf/dataplane/core-interface: "
                                        "no interface named nosuch0 on this host"]


@pytest.mark.root
def test_an_encapsulation_the_kernel_lacks_stops_the_start_with_a_clear_line(tmp_path):
    config = _variant(tmp_path, {"<dataplane>\n    <backend>dmmt:memory</backend>":
                                 "<dataplane><backend>dmmt:linux</backend>",
                                 "<encapsulation>dmmt:srv6</encapsulation>": "<encapsulation>dmmt:ip6ip6</encapsulation>"})
    proc = dmm_nf("run", "--config", str(config), "--state-dir", str(tmp_path / "state"))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    [line] = err.strip().splitlines()
    assert "/dmm-nf:dmm-nf/dataplane" in line and "ip6ip6 unavailable" in line


def test_a_role_this_release_cannot_run_is_refused_with_one_line(tmp_path):
    proc = dmm_nf("run", "--config", str(EXAMPLES / "maar.xml"), "--state-dir", str(tmp_path))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [f"dmm-nf: error: {EXAMPLES / 'maar.xml'}: /dmm-nf:dmm-nf/node/role: "
                                        "the maar role is not available in this release of dmm-nf"]


def test_a_busy_bfd_port_stops_the_start_with_one_line_naming_address_and_port(tmp_path):
    """BFD binds its port only with a session to run: give the LMA one, and take the port."""
    bfd_port = free_port()
    config = (EXAMPLES / "lma.xml").read_text().replace(
        "</dmm-nf>",
        f"<data-path><probe-address>2001:db8:fe::1</probe-address><bfd><udp-port>{bfd_port}</udp-port></bfd>"
        "</data-path></dmm-nf>", 1)
    config = config.replace("<peer>\n", "<peer>\n      <bfd><probe-address>2001:db8:fe::11</probe-address></bfd>\n", 1)
    path = tmp_path / "lma-bfd.xml"
    path.write_text(config)
    assert "<bfd><probe-address>" in config, "the example changed: the test no longer configures a BFD peer"
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as busy:
        busy.bind(("::", bfd_port))
        proc = dmm_nf("run", "--config", str(path), "--state-dir", str(tmp_path), "--netconf-port", str(free_port()),
                      "--metrics-port", str(free_port()))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    lines = err.strip().splitlines()
    assert proc.returncode == 2
    assert lines[-1] == f"dmm-nf: error: cannot start: cannot bind BFD socket to [::]:{bfd_port}: address already in use"
    assert "Traceback" not in err
