"""Linux data plane: bindings installed per second, and forwarding through the SRv6 tunnel.

Needs root (network namespaces). Baselines run in the same process and the same lab:
`ip -batch` installing the same routes and rules, and iperf3 over the plain routed path
between the same namespaces. Run directly with ``.venv/bin/python -m tests.bench.bench_dataplane``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv6Network

from nf.dataplane import BindingSpec, Route, RouteKind, Tunnel
from nf.dataplane.linux import LinuxDataPlane
from nf.lab.topology import CN_ADDRESS, HOME_PREFIX, NODE_ADDRESS, Topology

from .harness import baseline, result

GOAL_BINDINGS_PER_S = 1000
GOAL_FORWARDING_SHARE = 0.9  # of the plain routed path's throughput, same namespaces, same run
GOAL = "> 1000 bindings/s (a MAG registering 1000 mobile nodes within a second)"
TUNNEL = Tunnel(name="to-lma", local=NODE_ADDRESS["mag1"], remote=NODE_ADDRESS["lma"],
                remote_sid=NODE_ADDRESS["lma"], table=100)


def _spec(i: int) -> BindingSpec:
    hnp = IPv6Network(f"2001:db8:1{i >> 8:03x}:{i & 0xff:x}00::/64")
    return BindingSpec(f"mn{i}", TUNNEL, (Route(RouteKind.UPLINK, hnp, tunnel=TUNNEL.name),
                                          Route(RouteKind.ACCESS, hnp, interface="acc-mn1")))


def _install_rate(lab: Topology, count: int) -> tuple[float, float]:
    """(bindings/s through LinuxDataPlane, bindings/s through one `ip -batch`), same routes."""
    specs = [_spec(i) for i in range(count)]
    plane = LinuxDataPlane(core_interface="core", netns=lab.ns("mag1"))
    try:
        start = time.perf_counter()
        for spec in specs:
            plane.apply(spec)
        ours = count / (time.perf_counter() - start)
        plane.reconcile([])
    finally:
        plane.close()
    lines = [f"route add ::/0 encap seg6 mode encap segs {NODE_ADDRESS['lma']} dev core table 100 proto 201"]
    for spec in specs:
        hnp = spec.routes[0].prefix
        lines.append(f"route add {hnp} dev acc-mn1 proto 201")
        lines.append(f"rule add from {hnp} iif acc-mn1 lookup 100 priority 1000 protocol 201")
    with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as batch:
        batch.write("\n".join(lines) + "\n")
    try:
        start = time.perf_counter()
        lab.exec("mag1", "ip", "-6", "-batch", batch.name)
        theirs = count / (time.perf_counter() - start)
    finally:
        os.unlink(batch.name)
    cleanup = LinuxDataPlane(core_interface="core", netns=lab.ns("mag1"))
    cleanup.reconcile([])
    cleanup.close()
    return ours, theirs


def _install_rate_in_namespace(lab: Topology, count: int) -> float:
    """Bindings/s through LinuxDataPlane in a process inside the namespace, as `dmm-nf run`
    uses it in the lab: netlink directly, without pyroute2's NetNS proxy process."""
    script = ("import sys, time; from tests.bench.bench_dataplane import _spec;"
              "from nf.dataplane.linux import LinuxDataPlane;"
              f"specs = [_spec(i) for i in range({count})]; plane = LinuxDataPlane(core_interface='core');"
              "start = time.perf_counter(); [plane.apply(s) for s in specs];"
              f"print({count} / (time.perf_counter() - start)); plane.reconcile([]); plane.close()")
    return float(lab.exec("mag1", sys.executable, "-c", script, timeout=300).stdout.strip())


def _iperf(lab: Topology, seconds: int) -> float:
    """Mbit/s from mn1 to cn, TCP."""
    server = subprocess.Popen(["ip", "netns", "exec", lab.ns("cn"), "iperf3", "-s", "-1", "-B", str(CN_ADDRESS)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):  # wait until the server listens
            if lab.exec("cn", "ss", "-ltn", "sport = :5201").stdout.count("LISTEN"):
                break
            time.sleep(0.05)
        out = lab.exec("mn1", "iperf3", "-c", str(CN_ADDRESS), "-t", str(seconds), "-J", timeout=seconds + 30).stdout
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6
    finally:
        server.kill()
        server.wait()


def _throughput(lab: Topology, seconds: int) -> tuple[float, float]:
    """(Mbit/s through the SRv6 tunnel, Mbit/s over plain routes between the same namespaces)."""
    hnp = HOME_PREFIX["mn1"]
    lma = LinuxDataPlane(netns=lab.ns("lma"))
    mag = LinuxDataPlane(core_interface="core", netns=lab.ns("mag1"))
    try:
        lma_tunnel = Tunnel(name="to-mag1", local=NODE_ADDRESS["lma"], remote=NODE_ADDRESS["mag1"],
                            remote_sid=NODE_ADDRESS["mag1"])
        lma.apply(BindingSpec("mn1", lma_tunnel, (Route(RouteKind.DOWNLINK, hnp, tunnel="to-mag1"),)))
        mag.apply(BindingSpec("mn1", TUNNEL, (Route(RouteKind.UPLINK, hnp, tunnel=TUNNEL.name),
                                              Route(RouteKind.ACCESS, hnp, interface="acc-mn1"))))
        tunnelled = _iperf(lab, seconds)
        lma.reconcile([])
        mag.reconcile([])
        lab.exec("lma", "ip", "-6", "route", "add", str(hnp), "via", "2001:db8:10:1::2")
        lab.exec("mag1", "ip", "-6", "route", "add", "default", "via", "2001:db8:10:1::1")
        lab.exec("mag1", "ip", "-6", "route", "add", str(hnp), "dev", "acc-mn1")
        plain = _iperf(lab, seconds)
    finally:
        lma.close()
        mag.close()
    return tunnelled, plain


def run(quick: bool = False) -> list[dict]:
    lab = Topology(f"dmmbench{os.getpid() % 10000}-")
    try:
        lab.up()
        count = 200 if quick else 2000
        ours, theirs = _install_rate(lab, count)
        in_namespace = _install_rate_in_namespace(lab, count)
        tunnelled, plain = _throughput(lab, 2 if quick else 5)
    finally:
        lab.down()
    return [
        result("dataplane_linux_bindings_installed", ours, "bindings/s",
               baseline=baseline("ip -batch, same routes and rules", theirs, "bindings/s"),
               goal=GOAL, met=ours > GOAL_BINDINGS_PER_S,
               notes=f"{count} MAG bindings (access route + uplink rule each) into a lab namespace, "
                     "through pyroute2 NetNS (a proxy process per namespace)"),
        result("dataplane_linux_bindings_installed_in_namespace", in_namespace, "bindings/s",
               baseline=baseline("ip -batch, same routes and rules", theirs, "bindings/s"),
               goal=GOAL, met=in_namespace > GOAL_BINDINGS_PER_S,
               notes=f"the same {count} bindings from a process inside the MAG's namespace, as dmm-nf run "
                     "installs them in the lab (netlink directly, no proxy process)"),
        result("dataplane_srv6_forwarding_mn_to_cn", tunnelled, "Mbit/s",
               baseline=baseline("plain routed path, same namespaces", plain, "Mbit/s"),
               goal=f">= {GOAL_FORWARDING_SHARE:.0%} of the plain routed path",
               met=tunnelled >= GOAL_FORWARDING_SHARE * plain,
               notes=f"iperf3 TCP mn1 -> cn through mag1 and the LMA (veth links); tunnel/plain = "
                     f"{tunnelled / plain:.0%}"),
    ]


if __name__ == "__main__":
    for record in run():
        print(record)
