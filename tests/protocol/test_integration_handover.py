"""A mobile node moves from MAG1 to MAG2: three real runtimes over UDP.

The LMA tells MAGs apart by their address (the Proxy Care-of Address), so each node gets
its own address on the loopback interface of a private network namespace. The namespace
belongs to the thread that runs the scenario (unshare(CLONE_NEWNET) acts on the calling
thread), so the host's interfaces are untouched and the fixed ports 5436-5438 are free.
"""
from __future__ import annotations

import asyncio
import ctypes
import os
import subprocess
import threading
from collections.abc import Callable
from ipaddress import IPv6Address

import pytest

from nf.core.binding_cache import BindingState
from nf.dataplane.base import RouteKind
from nf.dataplane.tunnels import tunnel_name
from tests.protocol.test_integration_lma_mag import (
    MN,
    MN_LL,
    bul_state,
    event_kinds,
    ll_bytes,
    lma_of,
    lma_settings,
    mag_of,
    mag_settings,
    running,
    wait_for,
)

pytestmark = pytest.mark.root

LMA = IPv6Address("2001:db8:ff::1")
MAG1 = IPv6Address("2001:db8:ff::11")
MAG2 = IPv6Address("2001:db8:ff::12")
LMA_PORT, MAG1_PORT, MAG2_PORT = 5436, 5437, 5438
CLONE_NEWNET = 0x40000000


def in_private_netns(scenario: Callable[[], None]) -> None:
    """Run `scenario` in a thread of its own network namespace with LMA, MAG1 and MAG2 on lo."""
    failure: list[BaseException] = []

    def body() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}")
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            for address in (LMA, MAG1, MAG2):
                subprocess.run(["ip", "-6", "addr", "add", f"{address}/128", "dev", "lo", "nodad"], check=True)
            scenario()
        except BaseException as error:  # handed to the test's thread
            failure.append(error)

    thread = threading.Thread(target=body, name="private-netns")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def test_handover_moves_the_binding_and_a_late_deregistration_from_the_old_mag_is_ignored(tmp_path):
    mags = {MAG1: MAG1_PORT, MAG2: MAG2_PORT}
    lma_conf = lma_settings(LMA_PORT, mags, address=LMA)
    mag1_conf = mag_settings(MAG1_PORT, LMA_PORT, address=MAG1, lma_address=LMA, name="mag1")
    mag2_conf = mag_settings(MAG2_PORT, LMA_PORT, address=MAG2, lma_address=LMA, name="mag2")

    async def scenario() -> None:
        async with running(lma_conf, tmp_path / "lma") as lma, \
                running(mag1_conf, tmp_path / "mag1") as mag1, running(mag2_conf, tmp_path / "mag2") as mag2:
            mag_of(mag1).attach(MN, MN_LL)
            await wait_for(lambda: bul_state(mag1) == "registered", "registered through MAG1")
            entry = lma_of(lma).binding(MN, ll_bytes())
            [hnp] = entry.home_network_prefixes
            assert entry.proxy_coa == MAG1
            assert lma.dataplane.route(RouteKind.DOWNLINK, hnp).tunnel == tunnel_name(MAG1)

            # The node shows up at MAG2 on the same interface: RFC 5213 HI=3.
            mag_of(mag2).attach(MN, MN_LL, handoff_indicator=3)
            await wait_for(lambda: bul_state(mag2) == "registered", "registered through MAG2")
            assert lma_of(lma).binding(MN, ll_bytes()) is entry
            assert entry.proxy_coa == MAG2 and entry.home_network_prefixes == (hnp,)
            assert lma.dataplane.route(RouteKind.DOWNLINK, hnp).tunnel == tunnel_name(MAG2)
            assert mag_of(mag2).entry(MN, MN_LL).home_network_prefixes == (hnp,)
            assert set(lma.dataplane.tunnels) == {tunnel_name(MAG2)}  # nothing left towards MAG1
            assert lma.stats.handovers == 1 and lma_of(lma).counters.lifetime_extensions_after_handoff == 1
            [moved] = event_kinds(lma, "binding-updated")
            assert moved.data["handoff"] is True and moved.data["previous-proxy-coa"] == str(MAG1)
            assert moved.data["proxy-coa"] == str(MAG2)

            # MAG1 sees the node leave only now: its de-registration arrives after the handover.
            # The LMA ignores it without an answer (RFC 5213 §5.3.5 #1: not the serving MAG);
            # MAG1 removes its entry after INITIAL_BINDACK_TIMEOUT (§6.9.1.4).
            mag_of(mag1).detach(MN, MN_LL)
            await wait_for(lambda: bul_state(mag1) is None, "MAG1's BUL entry gone")
            assert mag1.stats.pba_received_by_status == {0: 1}  # the registration only
            assert lma.stats.drops_by_reason["pbu-deregistration-not-serving-mag"] == 1
            assert mag1.dataplane.route(RouteKind.UPLINK, hnp) is None
            assert lma_of(lma).binding(MN, ll_bytes()) is entry
            assert entry.proxy_coa == MAG2 and entry.state is BindingState.ACTIVE  # no delete scheduled
            assert lma_of(lma).counters.deregistrations == 0
            assert lma.dataplane.route(RouteKind.DOWNLINK, hnp).tunnel == tunnel_name(MAG2)
            assert event_kinds(lma, "binding-deleted") == []
            assert bul_state(mag2) == "registered"
            assert mag2.dataplane.route(RouteKind.UPLINK, hnp) is not None

    in_private_netns(lambda: asyncio.run(scenario()))
