"""relocate-anchor at a MAG inside the runtime (mgmt/rpcs.py), over UDP on loopback against a
scripted LMA socket: the anchors it accepts, and the path check before anything moves."""
from __future__ import annotations

import asyncio
from ipaddress import IPv6Address

import pytest

from mgmt.netconf.errors import RpcError
from mgmt.rpcs import ProductRpcs
from nf import wire
from nf.model import new_context
from nf.runtime import Runtime
from nf.settings import EnumValues, settings_from_dict
from tests.protocol.test_mag_runtime import HNP, LOOPBACK, MN, free_udp_port, lma_socket, receive_pbu  # noqa: F401
from tests.waiting import wait_until

STANDBY = "2001:db8:ffff::2"  # no route to it from here: a heartbeat to it goes unanswered


def run_with_registered_node(tmp_path, lma_socket, calls):
    """A MAG (LMA ::1, standby STANDBY, no BFD) with MN registered; `calls(rpcs)` runs in a
    thread, as a NETCONF session does, and its result is returned with the MAG's entry."""
    ctx = new_context()
    settings = settings_from_dict({
        "node": {"name": "mag1", "role": ["dmm-nf-types:mag"], "address": "::1"},
        "transport": {"type": "dmm-nf-types:udp", "udp-port": free_udp_port(), "listen-address": "::1"},
        "mag": {"lma-address": "::1", "standby-lma-address": STANDBY, "access-interface": [{"name": "acc0"}],
                "fixed-link-local-address": "fe80::1"},
        "peers": {"peer": [{"address": "::1", "name": "lma1", "udp-port": lma_socket.getsockname()[1]}]},
        "dataplane": {"backend": "dmm-nf-types:memory"},
    }, EnumValues(ctx))

    async def scenario():
        runtime = Runtime(settings, tmp_path)
        await runtime.start()
        try:
            mag = runtime.mag
            await asyncio.to_thread(runtime.call, mag.attach, MN)
            data, port = await receive_pbu(lma_socket)
            pbu = wire.decode(data, LOOPBACK, LOOPBACK)
            pba = wire.ProxyBindingAck(status=0, sequence=pbu.sequence, lifetime=3600, options=(
                wire.MobileNodeIdentifierOption(MN), wire.HomeNetworkPrefixOption(HNP)))
            lma_socket.sendto(wire.encode(pba, LOOPBACK, LOOPBACK), ("::1", port))
            await wait_until(lambda: getattr(mag.entry(MN), "state", None) == "registered")
            result = await asyncio.to_thread(calls, ProductRpcs(ctx, runtime))
            return result, mag.entry(MN)
        finally:
            await runtime.stop()
    return asyncio.run(scenario())


def test_a_relocation_to_an_anchor_that_answers_no_heartbeat_is_refused_and_the_node_stays(tmp_path, lma_socket):
    output, entry = run_with_registered_node(
        tmp_path, lma_socket, lambda rpcs: rpcs.relocate_anchor({"mn-identifier": MN, "new-anchor": STANDBY}))
    assert output == {"result": "anchor-unreachable", "previous-anchor": "::1",
                      "detail": f"no Heartbeat Response from {STANDBY} within 1 s"}
    assert entry.lma_address == IPv6Address("::1") and entry.state == "registered"


def test_a_relocation_to_an_address_that_is_no_anchor_of_the_mag_is_invalid_value_at_new_anchor(tmp_path, lma_socket):
    def call(rpcs):
        with pytest.raises(RpcError) as raised:
            rpcs.relocate_anchor({"mn-identifier": MN, "new-anchor": "2001:db8::7"})
        return raised.value
    error, entry = run_with_registered_node(tmp_path, lma_socket, call)
    assert error.tag == "invalid-value" and error.path == "/dmm-nf:relocate-anchor/new-anchor"
    assert "neither mag/lma-address nor mag/standby-lma-address" in error.message
    assert entry.lma_address == IPv6Address("::1")


def test_relocating_a_node_with_no_session_here_answers_unknown_mobile_node(tmp_path, lma_socket):
    output, _ = run_with_registered_node(
        tmp_path, lma_socket,
        lambda rpcs: rpcs.relocate_anchor({"mn-identifier": "other@example.net", "new-anchor": STANDBY}))
    assert output["result"] == "unknown-mobile-node" and "previous-anchor" not in output
