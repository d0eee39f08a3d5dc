"""Start-up errors as an operator meets them on the command line: a busy port, a file that is
no configuration. Each is one line naming the port or the file, exit status 2, no traceback
(`dmm-nf run` and `dmm-nf check-config`)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_daemon import EXAMPLES, ROOT, free_port

NS = "urn:dmm-nf:yang:dmm-nf"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def dmm_nf(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgmt.daemon", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, **kwargs)


def the_error(proc: subprocess.CompletedProcess) -> str:
    """The one error line of a failed start: exit status 2, no traceback, nothing logged at
    ERROR level before it."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert not [line for line in lines[:-1] if " ERROR " in line], proc.stderr
    return lines[-1]


def lma_on(tmp_path: Path, udp_port: int) -> Path:
    """lma.xml with its signalling on `udp_port` of ::1."""
    text = (EXAMPLES / "lma.xml").read_text().replace("<udp-port>5436</udp-port>", f"<udp-port>{udp_port}</udp-port>")
    path = tmp_path / "lma.xml"
    path.write_text(text)
    return path


def run_lma(tmp_path: Path, config: Path, netconf_port: int, metrics_port: int) -> subprocess.CompletedProcess:
    return dmm_nf("run", "--config", str(config), "--state-dir", str(tmp_path / "state"),
                  "--netconf-port", str(netconf_port), "--metrics-port", str(metrics_port))


def test_a_busy_signalling_port_is_one_line_naming_the_udp_port(tmp_path):
    port = free_udp_port()
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as busy:
        busy.bind(("::1", port))
        proc = run_lma(tmp_path, lma_on(tmp_path, port), free_port(), free_port())
    assert the_error(proc) == f"dmm-nf: error: cannot start: signalling: cannot bind UDP [::1]:{port}: " \
                              "address already in use"


@pytest.mark.parametrize("service", ["NETCONF", "metrics"])
def test_a_busy_tcp_port_is_one_line_naming_the_service_and_the_port(tmp_path, service):
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as busy:
        busy.bind(("::1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = (port, free_port()) if service == "NETCONF" else (free_port(), port)
        proc = run_lma(tmp_path, lma_on(tmp_path, free_udp_port()), *ports)
    assert the_error(proc) == f"dmm-nf: error: cannot start: {service}: cannot listen on TCP [::1]:{port}: " \
                              "address already in use"


def test_a_signalling_address_the_host_does_not_have_is_one_line_naming_it(tmp_path):
    text = lma_on(tmp_path, free_udp_port()).read_text().replace(
        "<listen-address>::1</listen-address>", "<listen-address>2001:db8:dead::1</listen-address>")
    config = tmp_path / "elsewhere.xml"
    config.write_text(text)
    proc = run_lma(tmp_path, config, free_port(), free_port())
    assert the_error(proc).startswith("dmm-nf: error: cannot start: signalling: cannot bind UDP [2001:db8:dead::1]:")
    assert the_error(proc).endswith(": cannot assign requested address")


# ------------------------------------------------------------------ files that are no configuration
def _oversized(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "huge.xml"
    with path.open("wb") as f:
        f.truncate(64 * 1024 * 1024 + 1)  # sparse: no disk used
    return path, "larger than 64 MiB: not a configuration file"


def _binary(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "binary.xml"
    data = f'<dmm-nf xmlns="{NS}">'.encode() + b"\x00\x01\x02"
    path.write_bytes(data)
    return path, f"binary data (a NUL byte at offset {data.index(0)}): not a configuration file"


def _latin1(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "latin1.xml"
    data = f'<dmm-nf xmlns="{NS}"><node><name>caf\xe9</name></node></dmm-nf>'.encode("latin-1")
    path.write_bytes(data)
    return path, f"not UTF-8 text (byte 0xe9 at offset {data.index(0xe9)})"


def _device(tmp_path: Path) -> tuple[Path, str]:
    return Path("/dev/zero"), "cannot read: not a regular file (a character device)"


def _directory(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path, "cannot read: not a regular file (a directory)"


def _fifo(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "fifo.xml"
    os.mkfifo(path)  # nobody writes to it: a reader that opened it would wait for ever
    return path, "cannot read: not a regular file (a FIFO)"


def _missing(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path / "nope.xml", "cannot read: no such file or directory"


NOT_CONFIGURATION = [_oversized, _binary, _latin1, _device, _directory, _fifo, _missing]


@pytest.mark.parametrize("command", ["run", "check-config"])
@pytest.mark.parametrize("make", NOT_CONFIGURATION, ids=lambda f: f.__name__.strip("_"))
def test_a_file_that_is_no_configuration_is_one_line_naming_it(tmp_path, command, make):
    path, problem = make(tmp_path)
    args = ["run", "--config", str(path), "--state-dir", str(tmp_path / "state")] if command == "run" \
        else ["check-config", str(path)]
    assert the_error(dmm_nf(*args)) == f"dmm-nf: error: {path}: /: {problem}"


@pytest.mark.root
def test_a_file_the_user_may_not_read_is_one_line_naming_it(tmp_path):
    """Mode 000, read by root without the capabilities that override file permissions."""
    path = tmp_path / "secret.xml"
    path.write_text((EXAMPLES / "lma.xml").read_text())
    path.chmod(0)
    proc = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                           "mgmt.daemon", "check-config", str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert the_error(proc) == f"dmm-nf: error: {path}: /: cannot read: permission denied"
