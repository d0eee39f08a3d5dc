"""Mobility Header codec throughput: the work the LMA does per registration.

``run()`` returns one result per measurement for the benchmark runner; run directly
with ``.venv/bin/python -m tests.bench.bench_wire`` to print them.
"""
from __future__ import annotations

import struct
import time
from ipaddress import IPv6Address, IPv6Network
from typing import Callable

from nf.wire import (
    AccessTechnologyType,
    AccessTechnologyTypeOption,
    BindingAckStatus,
    HandoffIndicator,
    HandoffIndicatorOption,
    Heartbeat,
    HomeNetworkPrefixOption,
    MobileNodeIdentifierOption,
    ProxyBindingAck,
    ProxyBindingUpdate,
    RestartCounterOption,
    TimestampOption,
    decode,
    encode,
)

MAG = IPv6Address("2001:db8:a::1")
LMA = IPv6Address("2001:db8:b::1")
GOAL_OPS_PER_S = 10_000
GOAL = "> 10000 ops/s on one core (LMA: 10,000 registrations/s with the codec in the loop)"

PBU = ProxyBindingUpdate(
    sequence=1,
    lifetime=3600,
    options=(
        MobileNodeIdentifierOption("mn1@example.net"),
        HomeNetworkPrefixOption(IPv6Network("::/0")),
        HandoffIndicatorOption(HandoffIndicator.ATTACHMENT_OVER_NEW_INTERFACE),
        AccessTechnologyTypeOption(AccessTechnologyType.IEEE_802_3),
        TimestampOption(1700000000, 0),
    ),
)
PBA = ProxyBindingAck(
    status=BindingAckStatus.ACCEPTED,
    sequence=1,
    lifetime=3600,
    options=(
        MobileNodeIdentifierOption("mn1@example.net"),
        HomeNetworkPrefixOption(IPv6Network("2001:db8:1:2::/64")),
        HandoffIndicatorOption(HandoffIndicator.ATTACHMENT_OVER_NEW_INTERFACE),
        AccessTechnologyTypeOption(AccessTechnologyType.IEEE_802_3),
        TimestampOption(1700000000, 0),
    ),
)
HEARTBEAT = Heartbeat(sequence=7, response=True, options=(RestartCounterOption(3),))
_FIXED_HEADER = struct.Struct("!BBBxHHHH")


def _rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second over about ``seconds`` of repeated calls."""
    count, batch = 0, 200
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            operation()
        count += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def run(quick: bool = False) -> list[dict]:
    seconds = 0.2 if quick else 1.0
    pbu_octets = encode(PBU, MAG, LMA)
    heartbeat_octets = encode(HEARTBEAT, LMA, MAG)
    baseline = {
        "name": "struct.pack of the fixed header",
        "value": _rate(lambda: _FIXED_HEADER.pack(59, 1, 5, 0, 1, 0xC200, 900), seconds),
        "unit": "ops/s",
    }
    measurements = {
        "PBU encode+decode": lambda: decode(encode(PBU, MAG, LMA), MAG, LMA),
        "PBU decode": lambda: decode(pbu_octets, MAG, LMA),
        "PBA encode": lambda: encode(PBA, LMA, MAG),
        "LMA registration round (PBU decode + PBA encode)": lambda: (
            decode(pbu_octets, MAG, LMA),
            encode(PBA, LMA, MAG),
        ),
        "Heartbeat decode": lambda: decode(heartbeat_octets, LMA, MAG),
    }
    results = []
    for name, operation in measurements.items():
        value = _rate(operation, seconds)
        results.append(
            {"name": name, "value": value, "unit": "ops/s", "baseline": baseline, "goal": GOAL,
             "met": value > GOAL_OPS_PER_S, "notes": None}
        )
    return results


if __name__ == "__main__":
    for result in run():
        print(f"{result['name']:55s} {result['value']:>12,.0f} {result['unit']}")
    print(f"{'baseline: ' + result['baseline']['name']:55s} {result['baseline']['value']:>12,.0f} ops/s")
