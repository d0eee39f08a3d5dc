"""Interop with FRR's bfdd (RFC 5883 multihop over IPv6): the proof that our BFD is BFD.

Two network namespaces joined by a veth: FRR 8.4's bfdd in one, our engine (as a plain
multihop peer, in its own process) in the other. FRR 8.4's bfdd has no authentication
(bfdd/bfd_packet.c never reads the A bit or an authentication section), so the session runs
unauthenticated; authentication is tested between two of our engines.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from nf.liveness.bfd import BfdState, Diagnostic
from tests.bfd_peer import PeerProcess
from tests.e2e.conftest import _lab_prefix
from tests.waiting import wait_until

pytestmark = [pytest.mark.root, pytest.mark.slow]

BFDD = Path("/usr/lib/frr/bfdd")
FRR_ADDRESS, OUR_ADDRESS = "2001:db8:bfd::1", "2001:db8:bfd::2"
FRR_INTERVAL_MS = 200
PEER_CLI = f"peer {OUR_ADDRESS} multihop local-address {FRR_ADDRESS}"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=check)


class FrrLab:
    """Namespaces NAME-frr and NAME-us, bfdd running in the first."""

    def __init__(self, prefix: str) -> None:
        self.frr_ns, self.our_ns = f"{prefix}bfd-frr", f"{prefix}bfd-us"
        self.state_dir = Path("/var/run/frr") / self.frr_ns  # bfdd runs as user frr
        self.config = self.state_dir / "bfdd.conf"
        self.pidfile = self.state_dir / "bfdd.pid"

    def up(self) -> None:
        for ns in (self.frr_ns, self.our_ns):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "bfd0", "netns", self.frr_ns, "type", "veth",
           "peer", "name", "bfd1", "netns", self.our_ns)
        for ns, dev, address in ((self.frr_ns, "bfd0", FRR_ADDRESS), (self.our_ns, "bfd1", OUR_ADDRESS)):
            sh("ip", "-n", ns, "addr", "add", f"{address}/64", "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.state_dir, "frr", "frr")
        self.config.write_text(f"bfd\n {PEER_CLI}\n  receive-interval {FRR_INTERVAL_MS}\n"
                               f"  transmit-interval {FRR_INTERVAL_MS}\n !\n!\n")
        shutil.chown(self.config, "frr", "frr")
        sh("ip", "netns", "exec", self.frr_ns, str(BFDD), "-N", self.frr_ns, "-d",
           "-f", str(self.config), "-i", str(self.pidfile))

    @property
    def bfdd_pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def peer(self) -> dict | None:
        done = sh("ip", "netns", "exec", self.frr_ns, "vtysh", "-N", self.frr_ns,
                  "-c", "show bfd peers json", check=False)
        try:
            peers = json.loads(done.stdout)
        except ValueError:
            return None
        return next((p for p in peers if p.get("peer") == OUR_ADDRESS), None)

    def configure(self, *lines: str) -> None:
        args = ["ip", "netns", "exec", self.frr_ns, "vtysh", "-N", self.frr_ns,
                "-c", "configure terminal", "-c", "bfd", "-c", PEER_CLI]
        for line in lines:
            args += ["-c", line]
        sh(*args)

    def down(self) -> None:
        try:
            pid = self.bfdd_pid
        except (OSError, ValueError):
            pid = None
        if pid is not None:
            for sig in (signal.SIGCONT, signal.SIGTERM):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.05)  # bfdd is not our child: nothing to wait() on
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
        for ns in (self.frr_ns, self.our_ns):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)


@pytest.fixture
def frr():
    if not BFDD.exists():
        pytest.fail("FRR's bfdd is missing: scripts/install-system-packages.sh installs frr")
    lab = FrrLab(_lab_prefix())
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


async def our_peer(lab: FrrLab, tx: float = 0.1) -> PeerProcess:
    return await PeerProcess.start(
        "--session", f"frr,{OUR_ADDRESS},{FRR_ADDRESS}", "--tx", str(tx), "--rx", str(tx),
        prefix=("ip", "netns", "exec", lab.our_ns), port=4784)


async def our_session(peer: PeerProcess) -> dict:
    [session] = (await peer.ask("sessions", "sessions"))["sessions"]
    return session


async def next_change(peer: PeerProcess, new: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = await peer.next_message(max(0.1, deadline - time.monotonic()))
        if message.get("change") == "frr" and message["new"] == new:
            return message


def frr_status(lab: FrrLab, status: str):
    return lambda: (lab.peer() or {}).get("status") == status


def test_session_comes_up_with_frr_bfdd_and_timers_negotiate(frr):
    async def scenario():
        peer = await our_peer(frr)
        try:
            await next_change(peer, "up")
            await wait_until(frr_status(frr, "up"), "FRR shows the session up", timeout=10)
            session = await our_session(peer)
            theirs = frr.peer()
            assert theirs["remote-id"] == session["local_discriminator"]
            assert session["remote_discriminator"] == theirs["id"]
            assert theirs["multihop"] is True
            # FRR's 200 ms rx bounds our 100 ms tx; its 200 ms tx sets our detection time.
            await wait_until(lambda: frr.peer()["remote-transmit-interval"] == 100,
                             "FRR learnt our interval", timeout=10)
            session = await our_session(peer)
            assert session["negotiated_tx_interval"] == pytest.approx(FRR_INTERVAL_MS / 1000)
            assert session["remote_required_min_rx"] == pytest.approx(FRR_INTERVAL_MS / 1000)
            assert session["detection_time"] == pytest.approx(3 * FRR_INTERVAL_MS / 1000)
            assert frr.peer()["remote-receive-interval"] == 100
        finally:
            await peer.stop()
    asyncio.run(scenario())


def test_bfdd_stopped_takes_our_session_down_with_diagnostic_1_within_the_detection_time(frr):
    async def scenario():
        peer = await our_peer(frr)
        try:
            await next_change(peer, "up")
            await wait_until(frr_status(frr, "up"), "FRR up", timeout=10)
            detection = (await our_session(peer))["detection_time"]
            stopped = time.monotonic()
            os.kill(frr.bfdd_pid, signal.SIGSTOP)
            down = await next_change(peer, "down")
            assert down["diagnostic"] == Diagnostic.CONTROL_DETECTION_TIME_EXPIRED
            # The last packet came at most one interval before the stop: detection at most
            # one Detection Time after it (CLOCK_MONOTONIC is the same in both processes).
            assert down["monotonic"] - stopped <= detection + 0.05
            os.kill(frr.bfdd_pid, signal.SIGCONT)
            await next_change(peer, "up")
            await wait_until(frr_status(frr, "up"), "FRR up again", timeout=10)
        finally:
            await peer.stop()
    asyncio.run(scenario())


def test_shutdown_of_the_peer_in_frr_takes_us_down_with_diagnostic_3(frr):
    async def scenario():
        peer = await our_peer(frr)
        try:
            await next_change(peer, "up")
            frr.configure("shutdown")
            down = await next_change(peer, "down")
            assert down["diagnostic"] == Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN
            session = await our_session(peer)
            assert session["remote_state"] == BfdState.ADMIN_DOWN
            frr.configure("no shutdown")
            await next_change(peer, "up")
        finally:
            await peer.stop()
    asyncio.run(scenario())


def test_stopping_our_engine_shows_down_administratively_in_frr(frr):
    async def scenario():
        peer = await our_peer(frr)
        await next_change(peer, "up")
        await wait_until(frr_status(frr, "up"), "FRR up", timeout=10)
        await peer.stop()
        await wait_until(frr_status(frr, "down"), "FRR down", timeout=5)
        theirs = frr.peer()
        assert theirs["remote-diagnostic"] == "administratively down"
        assert theirs["diagnostic"] == "neighbor signaled session down"
    asyncio.run(scenario())
