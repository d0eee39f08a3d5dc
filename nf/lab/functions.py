"""The dmm-nf processes of the lab: one `dmm-nf run` inside each function namespace.

Each process gets its generated configuration, state directory, log and pid file under the
lab's run directory. Start waits until NETCONF and metrics answer on the management bridge;
stop ends only the process its pid file names, and only if it is still our `dmm-nf run`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .configs import METRICS_PORT, NETCONF_PORT, function_config
from .topology import ALL_FUNCTION_HOSTS, LabError, Topology

READY_TIMEOUT = 30.0  # seconds; a function that is not serving by then has failed
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL


def default_run_dir(prefix: str) -> Path:
    return Path("/run/dmm-nf-lab") / prefix.rstrip("-")


def dmm_nf_command() -> list[str]:
    """The `dmm-nf` console script beside this interpreter (the project's virtualenv)."""
    script = Path(sys.executable).with_name("dmm-nf")
    if script.exists():
        return [str(script)]
    raise LabError(f"no dmm-nf command beside {sys.executable}: install the project (make install)")


class Functions:
    def __init__(self, topology: Topology, run_dir: Path | None = None) -> None:
        self.topology = topology
        self.run_dir = run_dir or default_run_dir(topology.prefix)

    def config_path(self, host: str) -> Path:
        return self.run_dir / f"{host}.xml"

    def log_path(self, host: str) -> Path:
        return self.run_dir / f"{host}.log"

    def _pid_path(self, host: str) -> Path:
        return self.run_dir / f"{host}.pid"

    # -- life cycle ------------------------------------------------------------------------
    def start_all(self) -> None:
        """Start every function that is not running, then wait until all of them serve."""
        for host in self.topology.function_hosts:
            if self.pid(host) is None:
                self._spawn(host)
        for host in self.topology.function_hosts:
            self.wait_ready(host)

    def start(self, host: str) -> int:
        pid = self.pid(host)
        if pid is None:
            pid = self._spawn(host)
        self.wait_ready(host)
        return pid

    def stop(self, host: str, sig: signal.Signals = signal.SIGTERM) -> bool:
        """End `host`'s process (SIGTERM, then SIGKILL after STOP_TIMEOUT); False if none ran."""
        pid = self.pid(host)
        self._pid_path(host).unlink(missing_ok=True)
        if pid is None:
            return False
        _signal(pid, sig)
        if not _wait_gone(pid, STOP_TIMEOUT):
            _signal(pid, signal.SIGKILL)
            _wait_gone(pid, STOP_TIMEOUT)
        return True

    @staticmethod
    def kill(pid: int) -> bool:
        """SIGKILL a process that is no function of ours (left in a lab namespace); True once gone."""
        _signal(pid, signal.SIGKILL)
        return _wait_gone(pid, STOP_TIMEOUT)

    def stop_all(self) -> list[str]:
        """Every function with a pid file, the standby LMA's too whether or not `topology` knows it."""
        return [host for host in ALL_FUNCTION_HOSTS if self.stop(host)]

    def pid(self, host: str) -> int | None:
        """The pid of `host`'s running `dmm-nf run`, or None."""
        pid = self._recorded_pid(host)
        if pid is None:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if not _alive(pid) or str(self.config_path(host)).encode() not in cmdline:
            return None  # gone, or the pid now belongs to another process
        return pid

    def wait_ready(self, host: str, timeout: float = READY_TIMEOUT) -> None:
        """Poll until NETCONF and metrics listen; the process's log tail if it dies first."""
        address = str(self.topology.management_address(host))
        deadline = time.monotonic() + timeout
        while True:
            # Alive is enough here: the pid file is ours, just written, and while `ip netns exec`
            # execs dmm-nf the process's cmdline (which `pid` checks) can read empty.
            pid = self._recorded_pid(host)
            if pid is None or not _alive(pid):
                raise LabError(f"{host}: dmm-nf exited during start; {self.log_path(host)} ends with:\n"
                               + self._log_tail(host))
            if self._listening(host) >= {NETCONF_PORT, METRICS_PORT}:
                return
            if time.monotonic() >= deadline:
                raise LabError(f"{host}: not serving NETCONF and metrics on [{address}] after {timeout:.0f} s; "
                               f"see {self.log_path(host)}")
            time.sleep(0.05)  # polling interval of the readiness check

    # -- internals -------------------------------------------------------------------------
    def _recorded_pid(self, host: str) -> int | None:
        try:
            return int(self._pid_path(host).read_text())
        except (OSError, ValueError):
            return None

    def _spawn(self, host: str) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config_path(host).write_text(function_config(self.topology, host))
        command = ["ip", "netns", "exec", self.topology.ns(host), *dmm_nf_command(), "run",
                   "--config", str(self.config_path(host)), "--state-dir", str(self.run_dir / f"{host}.state")]
        with open(self.log_path(host), "ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # outlives `dmm-nf lab up`
        self._pid_path(host).write_text(str(process.pid))
        return process.pid

    def _listening(self, host: str) -> set[int]:
        """TCP ports listening in `host`'s namespace (asked of the kernel: a probe connection
        would make the SSH server log a failed handshake)."""
        out = self.topology.exec(host, "ss", "-Hltn", check=False).stdout
        return {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines() if len(line.split()) > 3}

    def _log_tail(self, host: str, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path(host).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    """Reap our child if it is one; poll until the pid is gone. True when it is."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:  # not our child: another command started it
            if not _alive(pid):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)  # polling interval while the process exits
