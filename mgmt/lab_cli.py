"""`dmm-nf lab up|down|status|handover`: the namespace lab with its dmm-nf processes.

`up` builds the namespaces (nf/lab), joins the function namespaces to a management bridge
in the host namespace, starts `dmm-nf run` in the LMA and both MAGs, and brings each mobile
node's link to its serving MAG up: the node solicits a router, the MAG attaches it, and the
node configures its address by SLAAC from the MAG's Router Advertisement. A handover is the
link change alone. Every step skips what is already there, so `up` is idempotent.
`down` ends the processes, then removes the namespaces, the bridge and the run directory.
`up --standby-lma` adds a standby anchor, `lma2`, that the MAGs fail over to when the path to
the LMA goes down; the other actions find it by its namespace.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgmt.cli_errors import EXIT_USAGE, CliError
from mgmt.dmmctl_client import Client, Target
from nf.lab.configs import METRICS_PORT, NETCONF_PORT, PASSWORD, USER, mn_identifier
from nf.lab.functions import Functions
from nf.lab.topology import (CN_ADDRESS, DEFAULT_PREFIX, HOME_PREFIX, MAGS, STANDBY_LMA, LabError, Topology,
                             slaac_address)

REGISTRATION_TIMEOUT = 10.0  # seconds for a PBU / PBA exchange, retransmissions included
RPC_TIMEOUT = 10.0


@dataclass(frozen=True)
class HandoverResult:
    mn: str
    old_mag: str | None
    new_mag: str
    seconds: float  # from the link change to the new MAG's registration
    old_detached: bool  # the old MAG saw the carrier go and de-registered the node


class Lab:
    """The running lab: topology, function processes and NETCONF access to the functions."""

    def __init__(self, prefix: str = DEFAULT_PREFIX, run_dir: Path | None = None,
                 standby_lma: bool | None = None) -> None:
        """`standby_lma` None: as the lab is, with the standby LMA if its namespace exists."""
        try:
            present = Topology(prefix).exists(STANDBY_LMA)
        except ValueError as e:
            raise CliError(str(e), EXIT_USAGE) from None
        standby = present if standby_lma is None else standby_lma
        self.topology = Topology(prefix, management=True, slaac=True, standby_lma=standby)
        self.functions = Functions(self.topology, run_dir)

    # -- life cycle ------------------------------------------------------------------------
    def up(self) -> None:
        topology = self.topology
        if topology.standby_lma and topology.exists("lma") and not topology.exists(STANDBY_LMA):
            raise CliError(f"lab {topology.prefix!r} is up without a standby LMA; take it down first "
                           f"(dmm-nf lab down), then up --standby-lma")
        if not topology.standby_lma and topology.exists(STANDBY_LMA):
            raise CliError(f"lab {topology.prefix!r} is up with a standby LMA; take it down first (dmm-nf lab down)")
        topology.up()
        self.functions.start_all()
        for mn in HOME_PREFIX:
            mag = self.topology.serving_mag(mn)
            if mag is None:
                continue
            with self.client(mag) as client:
                if _entry(client, mn) is None:
                    self.topology.attach(mn, mag)  # again: its first solicitation found no MAG running
                self._wait_registered(client, mag, mn)

    def down(self) -> list[str]:
        """Every process, namespace and host link of the lab goes; returns what was removed."""
        removed = [f"process {host}" for host in self.functions.stop_all()]
        for pid, namespace in self.topology.processes().items():  # e.g. a ping left running in a host
            if self.functions.kill(pid):
                removed.append(f"process {pid} in {namespace}")
        removed += [f"link {name}" for name in self.topology.links_in_host()]
        removed += [f"namespace {ns}" for ns in self.topology.down()]
        if self.functions.run_dir.exists():
            shutil.rmtree(self.functions.run_dir)
            removed.append(f"directory {self.functions.run_dir}")
        return removed

    def handover(self, mn: str, mag: str) -> HandoverResult:
        """Move `mn` to `mag` by the link change alone: its link to the old MAG goes down (the
        old MAG sees the carrier go and de-registers it) and the one to `mag` comes up (the
        node solicits, the new MAG registers it). Returns once the new MAG has registered the
        node and the old one has let it go."""
        if mn not in HOME_PREFIX:
            raise CliError(f"no mobile node {mn!r}; the lab has {', '.join(HOME_PREFIX)}", EXIT_USAGE)
        if mag not in MAGS:
            raise CliError(f"no MAG {mag!r}; the lab has {', '.join(MAGS)}", EXIT_USAGE)
        old = self.topology.serving_mag(mn)
        if old == mag:
            return HandoverResult(mn, old, mag, 0.0, False)
        with ExitStack() as stack:  # sessions open before the link changes: only signalling is timed
            new_client = stack.enter_context(self.client(mag))
            old_running = old is not None and self.functions.pid(old) is not None
            old_client = stack.enter_context(self.client(old)) if old_running else None
            for client in (new_client, old_client):  # a session's first request is slow: not in the timing
                if client is not None:
                    _entry(client, mn)
            start = time.monotonic()
            self.topology.attach(mn, mag)
            self._wait_registered(new_client, mag, mn)
            seconds = time.monotonic() - start
            detached = old_client is not None and self._wait_released(old_client, old, mn)
            return HandoverResult(mn, old, mag, seconds, detached)

    # -- NETCONF ---------------------------------------------------------------------------
    def client(self, host: str) -> Client:
        return Client(Target(str(self.topology.management_address(host)), NETCONF_PORT, USER, PASSWORD,
                             RPC_TIMEOUT))

    def registration(self, mag: str, mn: str) -> dict[str, Any] | None:
        """`mn`'s entry in `mag`'s binding update list, or None."""
        with self.client(mag) as client:
            return _entry(client, mn)

    def _wait_registered(self, client: Client, mag: str, mn: str) -> None:
        deadline = time.monotonic() + REGISTRATION_TIMEOUT
        while True:
            entry = _entry(client, mn)
            if entry is not None and entry.get("state") == "registered":
                return
            if time.monotonic() >= deadline:
                state = entry.get("state") if entry else "no entry"
                raise CliError(f"{mn} is not registered at {mag} after {REGISTRATION_TIMEOUT:g} s ({state}); "
                               f"see {self.functions.log_path(mag)}")
            time.sleep(0.02)  # polling interval: each get also runs on the MAG's signalling loop

    def _wait_released(self, client: Client, mag: str, mn: str) -> bool:
        """Wait until `mag` holds no entry for `mn` (its de-registration is done)."""
        deadline = time.monotonic() + REGISTRATION_TIMEOUT
        while _entry(client, mn) is not None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    # -- inspection ------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        hosts = []
        for host in self.topology.status():
            entry: dict[str, Any] = {
                "name": host.name, "role": host.role, "namespace": host.namespace,
                "addresses": {ifname: [str(a) for a in addresses] for ifname, addresses in host.addresses.items()},
            }
            if host.name in self.topology.function_hosts:
                address = str(self.topology.management_address(host.name))
                pid = self.functions.pid(host.name)
                entry.update({
                    "management-address": address, "netconf-port": NETCONF_PORT, "metrics-port": METRICS_PORT,
                    "metrics-url": f"http://[{address}]:{METRICS_PORT}/metrics",
                    "dmmctl": f"dmmctl --host {address} --port {NETCONF_PORT} --user {USER} --password {PASSWORD}",
                    "running": pid is not None, "pid": pid, "log": str(self.functions.log_path(host.name)),
                })
            if host.role == "mn":
                entry["serving-mag"] = self.topology.serving_mag(host.name)
                entry["mn-identifier"] = mn_identifier(host.name)
            hosts.append(entry)
        return {"prefix": self.topology.prefix, "management-network": str(self.topology.management_network),
                "run-directory": str(self.functions.run_dir), "standby-lma": self.topology.standby_lma,
                "hosts": hosts}


def _entry(client: Client, mn: str) -> dict[str, Any] | None:
    key = f"<mn-identifier>{mn_identifier(mn)}</mn-identifier>"
    entries = client.get(f"<binding-update-list><entry>{key}</entry></binding-update-list>")
    found = entries.get("binding-update-list", {}).get("entry", [])
    return found[0] if found else None


# -- command line ------------------------------------------------------------------------------
def add_parser(sub: argparse._SubParsersAction) -> None:
    lab = sub.add_parser("lab", help="the network-namespace lab (root)",
                         description="Run one LMA, two MAGs, two mobile nodes and a correspondent node in "
                                     "network namespaces, each function a dmm-nf process (needs root).")
    lab.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"namespace name prefix (default {DEFAULT_PREFIX})")
    lab.add_argument("--run-dir", type=Path, metavar="DIR",
                     help="configs, logs, pid files and state of the functions (default /run/dmm-nf-lab/PREFIX)")
    actions = lab.add_subparsers(dest="lab_command", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="build the lab and start its functions (idempotent)")
    up.add_argument("--standby-lma", action="store_true",
                    help=f"add a standby LMA ({STANDBY_LMA}) the MAGs fail over to when the path to the LMA fails")
    actions.add_parser("down", help="stop the functions, remove every namespace, link and file of the lab")
    status = actions.add_parser("status", help="hosts, namespaces, roles, addresses, NETCONF and metrics ports")
    status.add_argument("--json", action="store_true", help="print JSON for scripts and runbooks")
    handover = actions.add_parser("handover", help="move a mobile node to another MAG")
    handover.add_argument("mn", metavar="MN", help=f"mobile node: {', '.join(HOME_PREFIX)}")
    handover.add_argument("mag", metavar="MAG", help=f"target MAG: {', '.join(MAGS)}")


def run(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix, args.run_dir, standby_lma=True if getattr(args, "standby_lma", False) else None)
    try:
        if args.lab_command == "up":
            lab.up()
            print(summary(lab.status()))
        elif args.lab_command == "down":
            removed = lab.down()
            print("\n".join(f"removed {what}" for what in removed) or "nothing to remove")
        elif args.lab_command == "status":
            state = lab.status()
            print(json.dumps(state, indent=2) if args.json else summary(state, try_this=False))
        elif args.lab_command == "handover":
            result = lab.handover(args.mn, args.mag)
            if result.old_mag == result.new_mag:
                print(f"{result.mn} is already on {result.new_mag}")
                return 0
            released = "" if result.old_mag is None or result.old_detached else \
                f"; {result.old_mag} still holds it"
            print(f"{result.mn}: {result.old_mag or 'no MAG'} -> {result.new_mag}, registered in "
                  f"{result.seconds * 1000:.0f} ms; address {slaac_address(result.mn)} kept{released}")
    except LabError as e:
        raise CliError(str(e)) from None
    return 0


def summary(state: dict[str, Any], try_this: bool = True) -> str:
    if not state["hosts"]:
        return f"lab {state['prefix']!r} is down"
    lines = [f"lab {state['prefix']!r}: management network {state['management-network']}"]
    for host in state["hosts"]:
        addresses = ", ".join(a for found in host["addresses"].values() for a in found)
        line = f"  {host['name']:<5} {host['role']:<4} netns {host['namespace']:<12} {addresses}"
        if "netconf-port" in host:
            line += (f"\n        NETCONF [{host['management-address']}]:{host['netconf-port']}  "
                     f"metrics {host['metrics-url']}  {'running' if host['running'] else 'NOT RUNNING'}")
        if host.get("serving-mag"):
            line += f"  (on {host['serving-mag']})"
        lines.append(line)
    if try_this:
        by_name = {h["name"]: h for h in state["hosts"]}
        lab = f"{_command('dmm-nf')} lab" + ("" if state["prefix"] == DEFAULT_PREFIX else f" --prefix {state['prefix']}")
        lines += [
            "",
            "try this:",
            f"  ip netns exec {by_name['mn1']['namespace']} ping -c 3 {CN_ADDRESS}   # mn1 -> cn through the tunnel",
            f"  {_command('dmmctl')}{by_name['mag1']['dmmctl'].removeprefix('dmmctl')} bindings",
            f"  curl -s {by_name['lma']['metrics-url']} | grep ^dmm_bindings",
            f"  {lab} handover mn1 mag2   # mn1 keeps {slaac_address('mn1')}",
            *(_failover_hints(by_name) if STANDBY_LMA in by_name else ()),
            f"  {lab} status --json",
            f"  {lab} down",
        ]
    return "\n".join(lines)


def _failover_hints(by_name: dict[str, Any]) -> list[str]:
    lma = by_name["lma"]["namespace"]
    return [f"  for link in to-mag1 to-mag2 to-cn; do ip -n {lma} link set $link down; done"
            f"   # cut the LMA off: the MAGs move their nodes to {STANDBY_LMA}",
            f"  {_command('dmmctl')}{by_name[STANDBY_LMA]['dmmctl'].removeprefix('dmmctl')} bindings"
            f"   # {STANDBY_LMA} now anchors them"]


def _command(name: str) -> str:
    """`name` if the shell finds it, else its path beside this interpreter (the virtualenv)."""
    return name if shutil.which(name) else str(Path(sys.executable).with_name(name))
