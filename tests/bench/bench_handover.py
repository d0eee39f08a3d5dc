"""Handover interruption in the running lab, through the real signalling.

Needs root. `dmm-nf lab`'s LMA and MAG processes run in their namespaces; a 1,000
datagrams/s UDP stream goes from the CN to mn1 while mn1 moves between the MAGs (link down at
the old MAG, up at the new one; the old MAG sees the carrier go and de-registers, the new one
attaches on the node's Router Solicitation and its Router Advertisement keeps the node's SLAAC
address; PBU / PBA over raw IPv6, routes over netlink). Each handover reports the datagrams lost and the longest silence at the
receiver. Baseline: the same stream without a handover, in the same lab and run.
Run directly with ``.venv/bin/python -m tests.bench.bench_handover``.
"""
from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

from mgmt.lab_cli import Lab
from nf.lab.topology import slaac_address
from nf.lab.traffic import udp_stream

from .harness import baseline, result

RATE = 1000  # datagrams/s
GOAL_GAP_MS = 50


def run(quick: bool = False) -> list[dict]:
    handovers = 4 if quick else 10
    with tempfile.TemporaryDirectory() as run_dir:
        lab = Lab(f"dmmho{os.getpid() % 10000}-", Path(run_dir))
        try:
            lab.up()
            address = str(slaac_address("mn1"))
            still = udp_stream(lab.topology, "cn", "mn1", address, rate=RATE, seconds=1.0)
            gaps, losses, signalling = [], [], []
            for i in range(handovers):
                target = "mag2" if i % 2 == 0 else "mag1"
                moved = []
                stream = udp_stream(lab.topology, "cn", "mn1", address, rate=RATE, seconds=1.0,
                                    during=lambda: moved.append(lab.handover("mn1", target)))
                gaps.append(stream.max_gap_ms)
                losses.append(stream.lost)
                signalling.append(moved[0].seconds * 1000)
        finally:
            lab.down()
    gap = statistics.median(gaps)
    per_run = ", ".join(f"{g:.0f}" for g in gaps)
    return [
        result("handover_interruption_gap", gap, "ms",
               baseline=baseline("longest gap of the same stream without a handover", still.max_gap_ms, "ms"),
               goal=f"< {GOAL_GAP_MS} ms", met=gap < GOAL_GAP_MS,
               notes=f"median of {handovers} handovers mn1 mag1 <-> mag2 under a {RATE}/s UDP stream CN -> MN "
                     f"through the dmm-nf processes; each: {per_run} ms; worst {max(gaps):.0f} ms. Includes the "
                     f"lab's link change (one ip -batch, ~4 ms), the node's Router Solicitation and the attach it "
                     f"triggers; link change to registration "
                     f"at the new MAG: median {statistics.median(signalling):.0f} ms"),
        result("handover_packets_lost", statistics.median(losses), "packets",
               baseline=baseline("lost by the same stream without a handover", still.lost, "packets"),
               goal=f"< {GOAL_GAP_MS} packets at {RATE}/s (the gap goal)", met=statistics.median(losses) < GOAL_GAP_MS,
               notes=f"median per handover; each: {', '.join(str(n) for n in losses)}"),
    ]


if __name__ == "__main__":
    for record in run():
        print(record)
