"""Echo round trips per second on loopback through the Mobility Header UDP transport.

Figures (each the median of alternating runs, server and client in separate processes):
- UdpTransport echo bound to ::1 — the bare-echo baseline the LMA's registration rate is
  compared with — against an echo on asyncio's own create_datagram_endpoint;
- UdpTransport bound to :: (destination from IPV6_PKTINFO via recvmsg) against bound to
  ::1 (recvfrom): the cost of learning the destination address from ancillary data.
"""
from __future__ import annotations

from tests.bench.harness import (
    baseline,
    median,
    result,
    start_echo_server,
    udp_request_rate,
)

REQUEST_SIZE = 56  # a Proxy Binding Update with MN-ID, HNP, HI, ATT, timestamp is about this
WINDOW = 32
UNIT = "round trips/s"
LMA_GOAL = 10_000  # registrations/s the LMA must reach on one core


def _request(i: int) -> bytes:
    return i.to_bytes(8, "big") + bytes(REQUEST_SIZE - 8)


def _echo_rate(bind: str, kind: str, count: int) -> float:
    with start_echo_server(bind, kind) as server:
        load = udp_request_rate(server.target, _request, count, window=WINDOW)
    if load.lost:
        raise RuntimeError(f"{load.lost} of {load.sent} echo requests lost on loopback")
    return load.rate


def run(quick: bool = False) -> list[dict]:
    count, rounds = (20_000, 1) if quick else (100_000, 3)
    setups = {("::1", "transport"): [], ("::", "transport"): [], ("::1", "asyncio"): []}
    for _ in range(rounds):  # alternate, so drift in machine load hits every setup alike
        for (bind, kind), rates in setups.items():
            rates.append(_echo_rate(bind, kind, count))
    bound = median(setups[("::1", "transport")])
    wildcard = median(setups[("::", "transport")])
    plain_asyncio = median(setups[("::1", "asyncio")])
    sample = f"{count} requests of {REQUEST_SIZE} octets, window {WINDOW}, median of {rounds}"
    return [
        result("UDP echo via UdpTransport bound to ::1 (LMA baseline)", bound, UNIT,
               baseline=baseline("UDP echo via asyncio create_datagram_endpoint",
                                 plain_asyncio, UNIT),
               goal=f"> {LMA_GOAL} {UNIT} and faster than the asyncio endpoint",
               met=bound > LMA_GOAL and bound > plain_asyncio, notes=sample),
        result("UDP echo via UdpTransport bound to :: (IPV6_PKTINFO)", wildcard, UNIT,
               baseline=baseline("UdpTransport bound to ::1 (recvfrom)", bound, UNIT),
               goal=f"> {LMA_GOAL} {UNIT}", met=wildcard > LMA_GOAL,
               notes=f"{sample}; the load client (one Python process) may cap both"),
    ]
