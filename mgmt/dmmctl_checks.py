"""dmmctl's runbook commands: one answer to the questions an operator asks at 3 a.m.

* `check-mn ID`: is this mobile node served, and how — its binding, anchor and serving access
  gateway, tunnel and SID, binding against the kernel (check-forwarding), the data path
  through its own forwarding (probe-path), its last events. Exit 1 on any problem.
* `check-path PEER`: the signalling (heartbeats) and the data path (BFD through the tunnel)
  to a peer. Exit 1 when either is not up.
* `watch`: the node's notifications as they come, one line each (JSON lines with --json),
  until Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any
from xml.sax.saxutils import escape

from mgmt import dmmctl_views as views
from mgmt.cli_errors import EXIT_FAILURE
from mgmt.dmmctl_client import Client, RpcFailed

EVENTS_SHOWN = 5


def cmd_check_mn(client: Client, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    mn = args.mn
    key = f"<mn-identifier>{escape(mn)}</mn-identifier>"
    data = client.get(f"<node><name/><address/></node><binding-cache><binding>{key}</binding></binding-cache>"
                      f"<binding-update-list><entry>{key}</entry></binding-update-list>")
    node = data.get("node", {})
    cache = data.get("binding-cache", {}).get("binding", [])  # this node anchors the mobile node
    bindings = cache or data.get("binding-update-list", {}).get("entry", [])  # or serves it as its MAG
    problems: list[str] = []
    report: dict[str, Any] = {"mn-identifier": mn, "node": node.get("name"), "bindings": bindings}
    if not bindings:
        problems.append(f"no binding for {mn} on {node.get('name')}")
    else:
        at_anchor = bool(cache)
        for b in bindings:
            state = b.get("state")
            if state not in ("active", "registered", "refreshing"):
                problems.append(f"binding state {state}")
        report["anchor"] = node.get("address") if at_anchor else bindings[0].get("lma-address")
        report["serving-mag"] = bindings[0].get("proxy-coa") if at_anchor else node.get("address")
        forwarding = _rpc(client, "check-forwarding", {"mn-identifier": mn}, problems)
        if forwarding is not None:
            report["forwarding"] = forwarding
            if not forwarding.get("consistent"):
                problems += [f"forwarding {m.get('kind')}: {m.get('object')} (kernel: {m.get('actual') or 'nothing'})"
                             for m in forwarding.get("mismatch", [])]
                problems += [f"kernel {c.get('check')} lookup: {c.get('actual')}"
                             for c in forwarding.get("kernel-lookup", []) if not c.get("as-expected")]
        probe = _rpc(client, "probe-path", {"mn-identifier": mn, "count": 1, "timeout": args.wait}, problems)
        if probe is not None:
            report["data-path"] = probe
            if probe.get("result") != "reachable":
                problems += [line for line in probe.get("failure", "").splitlines() if line]
    latest = client.rpc("get-events", {"mn-identifier": mn, "order": "newest-first", "limit": EVENTS_SHOWN})
    report["events"] = latest.get("event", [])[::-1]  # the node's own, from the store: not the whole history
    report["problems"] = problems
    if problems:
        args.exit_status = EXIT_FAILURE
    return report, views.check_mn_view(report)


def cmd_check_path(client: Client, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    peer = args.peer
    data = client.get(f"<peers><peer><address>{escape(peer)}</address></peer></peers>")
    entries = data.get("peers", {}).get("peer", [])
    problems: list[str] = []
    report: dict[str, Any] = {"peer": peer}
    if not entries:
        problems.append(f"{peer} is not a peer of this node")
    else:
        entry = entries[0]
        report["peer-state"] = entry
        session = entry.get("bfd", {}).get("session")
        probe = _rpc(client, "probe-path", {"peer": peer, "count": 3, "timeout": args.wait}, problems)
        if probe is not None:
            report["probe"] = probe
            if probe.get("received", 0) == 0:
                problems.append(f"signalling: no Heartbeat Response from {peer}")
        if session is None:
            report["bfd"] = None
        else:
            report["bfd"] = session
            if session.get("state") != "up":
                problems.append(f"data path: BFD {session.get('state')} ({session.get('local-diagnostic')})")
    report["problems"] = problems
    if problems:
        args.exit_status = EXIT_FAILURE
    return report, views.check_path_view(report)


def cmd_watch(client: Client, args: argparse.Namespace) -> tuple[None, None]:
    """Print notifications until Ctrl-C (or SIGTERM); nothing is printed at the end."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for time, name, content in client.notifications():
            if args.kind and name not in args.kind:
                continue
            if args.json:
                print(json.dumps({"time": time, "kind": name, "data": content}), flush=True)
            else:
                print(views.notification_line(time, name, content), flush=True)
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
    return None, None


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _rpc(client: Client, name: str, params: dict[str, Any], problems: list[str]) -> dict[str, Any] | None:
    try:
        return client.rpc(name, params)
    except RpcFailed as error:
        problems.append(str(error))
        return None


def add_commands(command) -> None:
    """Register the commands with dmmctl's `command(name, run, summary)` helper."""
    p = command("check-mn", cmd_check_mn, "is this mobile node served? binding, anchor, MAG, tunnel, forwarding "
                                          "against the kernel, data path, last events; exit 1 on any problem")
    p.add_argument("mn", metavar="ID", help="MN-Identifier")
    p.add_argument("--wait", type=int, default=1000, metavar="MS", help="wait for each probe answer (default 1000)")
    p = command("check-path", cmd_check_path, "signalling (heartbeats) and data path (BFD) to a peer; "
                                              "exit 1 when either is not up")
    p.add_argument("peer", metavar="PEER", help="peer address")
    p.add_argument("--wait", type=int, default=1000, metavar="MS", help="wait for each probe answer (default 1000)")
    p = command("watch", cmd_watch, "print the node's notifications as they come (JSON lines with --json) "
                                    "until Ctrl-C")
    p.add_argument("--kind", action="append", metavar="NAME",
                   help="only notifications of this name (repeatable), e.g. data-path-down")
