"""`dmmctl`: the operator's command line for dmm-nf, over NETCONF (ncclient).

    dmmctl [--host H] [--port P] [--user U] [--password W] [--json] [--timeout S] COMMAND ...

Commands answer the questions asked during an incident: `status`, `bindings [--mn ID]`,
`peers`, `events`, `probe`, `config get`, and act on the node: `attach`, `detach` (MAG
link events), `revoke` (RFC 5846 binding revocation). Tables by default, JSON with --json.
Errors are one line on stderr with a distinct exit status (see mgmt/dmmctl_client.py and
docs/dmmctl.md).
"""
from __future__ import annotations

import argparse
import copy
import getpass
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from ipaddress import IPv6Address
from typing import Any, Callable, NoReturn
from xml.sax.saxutils import escape

from lxml import etree

from mgmt.cli_errors import EXIT_FAILURE, EXIT_USAGE, CliError, fail
from mgmt.dmmctl_client import Client, RpcFailed, Target, enum_names
from mgmt import dmmctl_checks
from mgmt import dmmctl_views as views

PROG = "dmmctl"
DEFAULT_PORT = 830
DATASTORES = ("running", "candidate", "startup")


class Parser(argparse.ArgumentParser):
    """argparse with dmmctl's one-line usage errors (exit 2)."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see '{self.prog} --help')"
        sys.exit(fail(PROG, CliError(message + hint, EXIT_USAGE)))


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number 1..65535: {text!r}")
    return int(text)


def _probe_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 255:
        raise argparse.ArgumentTypeError(f"not a count 1..255: {text!r}")
    return int(text)


def _milliseconds(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"not a positive number of milliseconds: {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def point_in_time(text: str) -> datetime:
    """'15m', '2h', '1d', '30s' ago, or an ISO 8601 date-time (UTC unless it says otherwise)."""
    ago = _AGO.match(text)
    if ago:
        return datetime.now(timezone.utc) - timedelta(**{_UNIT[ago.group(2)]: int(ago.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration (15m, 2h, 1d) or ISO date-time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _ipv6(text: str) -> str:
    try:
        return str(IPv6Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IPv6 address: {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return int(text)


# ----- commands -----------------------------------------------------------------------------
# Each takes the session and the parsed arguments and returns (JSON value, human text), or
# a Streamed answer that is printed as it arrives.
class Streamed:
    """An answer read page by page: with --json, one JSON object per line as each page
    arrives (so `| jq` starts at once and memory stays flat); else a table at the end."""

    def __init__(self, items: Iterable[dict[str, Any]], line: Callable[[dict[str, Any]], Any],
                 view: Callable[[list[dict[str, Any]]], str]) -> None:
        self.items, self.line, self.view = items, line, view

    def print(self, as_json: bool) -> None:
        if as_json:
            for item in self.items:
                print(json.dumps(self.line(item), ensure_ascii=False), flush=True)
        else:
            print(self.view(list(self.items)))


Result = tuple[Any, str]


def cmd_status(client: Client, args: argparse.Namespace) -> Result:
    data = client.get("<node/><peers><peer><address/><liveness-state/></peer></peers><statistics/>"
                      "<prefix-pools/><binding-update-list><entry><mn-identifier/><state/></entry>"
                      "</binding-update-list>", alarms="<summary/>")
    node = data.get("node", {})
    stats = data.get("statistics", {})
    peers = data.get("peers", {}).get("peer", [])
    up = sum(1 for p in peers if p.get("liveness-state") == "up")
    bindings = stats.get("current-bindings", len(data.get("binding-update-list", {}).get("entry", [])))
    summary = {
        "name": node.get("name"),
        "roles": [views.identity(r) for r in node.get("active-role", node.get("role", []))],
        "software-version": node.get("software-version"),
        "restart-counter": node.get("restart-counter"),
        "uptime": node.get("uptime"),
        "bindings": bindings,
        "peers-up": up,
        "peers-down": sum(1 for p in peers if p.get("liveness-state") == "down"),
        "peers-unknown": sum(1 for p in peers if p.get("liveness-state") not in ("up", "down")),
        # RFC 8632 summary: alarms neither cleared nor closed need someone's attention
        "active-alarms": sum(r.get("not-cleared-not-closed", 0)
                             for r in data["alarms"].get("summary", {}).get("alarm-summary", [])),
        "pools": data.get("prefix-pools", {}).get("pool", []),
        "statistics": stats,
    }
    return summary, views.status_view(summary)


def cmd_bindings(client: Client, args: argparse.Namespace) -> Result:
    if args.mn is None:
        data = client.get("<binding-cache/><binding-update-list/>")
    else:
        key = f"<mn-identifier>{escape(args.mn)}</mn-identifier>"
        data = client.get(f"<binding-cache><binding>{key}</binding></binding-cache>"
                          f"<binding-update-list><entry>{key}</entry></binding-update-list>")
    cache = data.get("binding-cache", {}).get("binding", [])
    update_list = data.get("binding-update-list", {}).get("entry", [])
    text = views.bindings_view(cache, update_list)
    if args.mn is not None and not cache and not update_list:
        text = f"no binding for {args.mn}"
    return {"binding-cache": cache, "binding-update-list": update_list}, text


def cmd_peers(client: Client, args: argparse.Namespace) -> Result:
    peers = client.get("<peers/>").get("peers", {}).get("peer", [])
    return peers, views.peers_view(peers)


EVENTS_PAGE = 1000  # events asked for per get-events call


def check_events(args: argparse.Namespace) -> None:
    if args.since is not None and args.until is not None and args.until < args.since:
        raise CliError(f"--until {args.until.isoformat()} is before --since {args.since.isoformat()}", EXIT_USAGE)


def cmd_events(client: Client, args: argparse.Namespace) -> Result:
    query = {"since": args.since.isoformat() if args.since else None,
             "until": args.until.isoformat() if args.until else None,
             "kind": args.kind, "mn-identifier": args.mn, "peer": args.peer}
    events = _newest_events(client, query, args.limit) if args.limit else _all_events(client, query)
    return Streamed(events, _event_line, views.events_view), ""


def _all_events(client: Client, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every matching event, oldest first, a page at a time."""
    after = None
    while True:
        page = client.rpc("get-events", {**query, "after-sequence": after, "limit": EVENTS_PAGE})
        events = page.get("event", [])
        yield from events
        if not page.get("more") or not events:
            return
        after = events[-1]["sequence"]


def _newest_events(client: Client, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """The `limit` newest matching events, oldest first."""
    found: list[dict[str, Any]] = []
    before = None
    while len(found) < limit:
        page = client.rpc("get-events", {**query, "before-sequence": before, "order": "newest-first",
                                         "limit": min(EVENTS_PAGE, limit - len(found))})
        events = page.get("event", [])
        found.extend(events)
        if not page.get("more") or not events:
            break
        before = events[-1]["sequence"]
    return found[::-1]


def _event_line(event: dict[str, Any]) -> dict[str, Any]:
    """One JSON line: sequence, time, kind and the event's data as an object."""
    return {"sequence": event["sequence"], "time": event["time"], "kind": event["kind"],
            "data": json.loads(event.get("data") or "{}")}


def cmd_attach(client: Client, args: argparse.Namespace) -> Result:
    output = client.rpc("mn-attach", {"mn-identifier": args.mn, "link-layer-id": args.link_layer_id,
                                      "access-technology-type": args.access_technology,
                                      "interface": args.interface, "handoff-indicator": args.handoff_indicator})
    return ({"mn-identifier": args.mn, "result": "ok", **output},
            f"attach {args.mn}: accepted; the MAG now registers it with its LMA "
            f"(dmmctl bindings --mn {args.mn} shows the result)")


def cmd_detach(client: Client, args: argparse.Namespace) -> Result:
    output = client.rpc("mn-detach", {"mn-identifier": args.mn, "link-layer-id": args.link_layer_id})
    return ({"mn-identifier": args.mn, "result": "ok", **output},
            f"detach {args.mn}: accepted; the MAG now de-registers it at its LMA")


def cmd_revoke(client: Client, args: argparse.Namespace) -> Result:
    output = client.rpc("revoke-binding", {"mn-identifier": args.mn, "link-layer-id": args.link_layer_id,
                                           "trigger": args.trigger})
    return {"mn-identifier": args.mn, **output}, views.revoke_view(args.mn, output)


def cmd_relocate(client: Client, args: argparse.Namespace) -> Result:
    """MAG: relocate-anchor for the nodes named, or for every node anchored elsewhere (--all)."""
    if args.all == bool(args.mn):
        raise CliError("name the mobile nodes to relocate, or give --all (not both)", EXIT_USAGE)
    nodes = args.mn
    if args.all:
        entries = client.get("<binding-update-list/>").get("binding-update-list", {}).get("entry", [])
        nodes = sorted({e["mn-identifier"] for e in entries if e.get("lma-address") != args.anchor
                        and e.get("state") != "deregistering"})
        if not nodes:
            return [], f"nothing to relocate: no mobile node here is anchored elsewhere than {args.anchor}"
    outputs = [{"mn-identifier": mn, **client.rpc("relocate-anchor", {"mn-identifier": mn, "new-anchor": args.anchor})}
               for mn in nodes]
    if any(o["result"] != "relocated" for o in outputs):
        args.exit_status = EXIT_FAILURE
    return outputs, views.relocate_view(args.anchor, outputs)


def cmd_probe(client: Client, args: argparse.Namespace) -> Result:
    try:
        output = client.rpc("probe-path", {"peer": args.peer, "mn-identifier": args.mn, "count": args.count,
                                           "timeout": args.wait})
    except RpcFailed as e:
        if e.tag == "operation-not-supported":
            raise RpcFailed(f"this node does not support probing paths (probe-path answered "
                            f"operation-not-supported): {e}", e.tag) from None
        raise
    if output.get("result") != "reachable":
        args.exit_status = EXIT_FAILURE  # scripts can test the path with the exit status
    return output, views.probe_view(output)


def cmd_self_test(client: Client, args: argparse.Namespace) -> Result:
    output = client.rpc("self-test", {})
    if output.get("result") != "pass":
        args.exit_status = EXIT_FAILURE
    return output, views.self_test_view(output)


def cmd_audit(client: Client, args: argparse.Namespace) -> Result:
    output = client.rpc("audit-forwarding", {"repair": "true" if args.repair else "false"})
    if not output.get("consistent"):
        args.exit_status = EXIT_FAILURE
    return output, views.audit_view(output)


def cmd_config_get(client: Client, args: argparse.Namespace) -> Result:
    data = client.get_config(args.datastore)
    tree = client.parse_tree(data)
    as_json = json.loads(tree.print_mem("json", with_siblings=True)) if tree is not None else {}
    if tree is not None:
        tree.free()
    xml = []
    for child in data:
        child = copy.deepcopy(child)
        etree.cleanup_namespaces(child)  # no declarations it inherited but does not use
        etree.indent(child)
        xml.append(etree.tostring(child, encoding="unicode"))
    return as_json, "\n".join(xml) if xml else f"<!-- {args.datastore} is empty -->"


# ----- command line ---------------------------------------------------------------------------
def _connection_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The global options; sub-commands accept them too (after the command name)."""
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("connection and output")
    group.add_argument("--host", default=default(os.environ.get("DMMCTL_HOST", "localhost")),
                       help="node to manage (default: $DMMCTL_HOST or localhost)")
    group.add_argument("--port", type=_port, default=default(os.environ.get("DMMCTL_PORT", DEFAULT_PORT)),
                       help="NETCONF over SSH port (default: $DMMCTL_PORT or 830)")
    group.add_argument("--user", default=default(os.environ.get("DMMCTL_USER")),
                       help="NETCONF user (default: $DMMCTL_USER or the login name)")
    group.add_argument("--password", default=default(os.environ.get("DMMCTL_PASSWORD")),
                       help="password (default: $DMMCTL_PASSWORD; without one, SSH keys and the agent are tried)")
    group.add_argument("--verify-host-key", action="store_true", default=default(False),
                       help="check the node's SSH host key against ~/.ssh/known_hosts")
    group.add_argument("--timeout", type=_seconds, default=default(30.0), metavar="SECONDS",
                       help="limit for connecting and for each answer (default 30)")
    group.add_argument("--json", action="store_true", default=default(False), help="print JSON instead of tables")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="Operate a dmm-nf node over NETCONF.",
                    epilog="exit status: 0 ok, 1 failure (a check, probe, audit or self-test failed), 2 usage, 3 cannot connect, "
                           "4 authentication refused, 5 rpc-error from the node, 6 no answer within --timeout")
    _connection_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    def command(name: str, run: Callable[[Client, argparse.Namespace], Result], summary: str,
                owner: Any = sub) -> argparse.ArgumentParser:
        p = owner.add_parser(name, help=summary, description=summary)
        _connection_options(p, defaults=False)
        p.set_defaults(run=run)
        return p

    command("status", cmd_status, "node identity, roles, restart counter, uptime, bindings, peers and key counters")

    p = command("bindings", cmd_bindings, "binding cache (LMA) or binding update list (MAG)")
    p.add_argument("--mn", metavar="ID", help="only this mobile node (MN-Identifier); a keyed lookup on the node")

    command("peers", cmd_peers, "peers with their path liveness (RFC 5847 heartbeat)")

    p = command("events", cmd_events, "the node's event history: bindings, paths, restarts, alarms, "
                "configuration commits (get-events); with --json one JSON object per line")
    p.add_argument("--since", type=point_in_time, metavar="WHEN",
                   help="only events at or after WHEN: 30s, 15m, 2h, 1d ago or an ISO 8601 date-time (UTC unless "
                        "it has an offset)")
    p.add_argument("--until", type=point_in_time, metavar="WHEN", help="only events at or before WHEN (as --since)")
    p.add_argument("--kind", nargs="+", action="extend", metavar="KIND",
                   help="only events of these kinds, e.g. binding-created config-committed (repeatable)")
    p.add_argument("--mn", metavar="ID", help="only events about this mobile node")
    p.add_argument("--peer", type=_ipv6, metavar="ADDR", help="only events naming this peer")
    p.add_argument("--limit", type=_positive, metavar="N", help="only the N most recent matching events")
    p.set_defaults(check=check_events)

    p = command("attach", cmd_attach, "MAG: signal that a mobile node attached (mn-attach)")
    p.add_argument("mn", metavar="ID", help="MN-Identifier, e.g. mn1@example.net")
    p.add_argument("--link-layer-id", metavar="X", help="link-layer identifier, e.g. 02:00:00:00:00:10")
    p.add_argument("--access-technology", choices=enum_names("mn-attach", "access-technology-type"), metavar="T",
                   help="access technology type: %(choices)s")
    p.add_argument("--interface", metavar="I", help="access interface the mobile node attached on")
    p.add_argument("--handoff-indicator", choices=enum_names("mn-attach", "handoff-indicator"), metavar="H",
                   help="RFC 5213 handoff indicator: %(choices)s")

    p = command("detach", cmd_detach, "MAG: signal that a mobile node detached (mn-detach)")
    p.add_argument("mn", metavar="ID", help="MN-Identifier")
    p.add_argument("--link-layer-id", metavar="X", help="link-layer identifier of the attachment to end")

    p = command("revoke", cmd_revoke, "LMA: revoke a mobile node's binding (RFC 5846 revoke-binding)")
    p.add_argument("mn", metavar="ID", help="MN-Identifier")
    p.add_argument("--link-layer-id", metavar="X", help="only the binding of this link-layer identifier")
    p.add_argument("--trigger", choices=enum_names("revoke-binding", "trigger"), metavar="NAME",
                   help="RFC 5846 revocation trigger (default administrative-reason): %(choices)s")

    p = command("relocate", cmd_relocate, "MAG: register mobile nodes with another of its anchors, e.g. back with "
                "mag/lma-address after a failover (relocate-anchor); exit 1 if any did not move")
    p.add_argument("anchor", type=_ipv6, metavar="ANCHOR", help="mag/lma-address or mag/standby-lma-address")
    p.add_argument("mn", nargs="*", metavar="ID", help="MN-Identifiers to move")
    p.add_argument("--all", action="store_true", help="every mobile node here anchored elsewhere than ANCHOR")

    p = command("probe", cmd_probe, "probe the path to a peer, or to the peer serving a mobile node (probe-path)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("peer", nargs="?", metavar="PEER", help="peer address")
    target.add_argument("--mn", metavar="ID", help="probe the peer serving this mobile node")
    p.add_argument("--count", type=_probe_count, default=3, metavar="N", help="probes to send, 1..255 (default 3)")
    p.add_argument("--wait", type=_milliseconds, default=1000, metavar="MS", help="wait per probe in ms (default 1000)")

    dmmctl_checks.add_commands(command)

    command("self-test", cmd_self_test, "exercise the service end to end; exit 1 naming the step that failed")

    p = command("audit", cmd_audit, "compare every binding with what the kernel forwards (audit-forwarding); "
                                    "exit 1 on any difference")
    p.add_argument("--repair", action="store_true", help="re-install what is missing or wrong, remove what is stale")

    config = sub.add_parser("config", help="read configuration datastores", description="Read configuration.")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION", parser_class=Parser)
    p = command("get", cmd_config_get, "print a configuration datastore (XML; JSON with --json)", owner=config_sub)
    p.add_argument("--datastore", choices=DATASTORES, default="running", help="default: running")
    return parser


def run(args: argparse.Namespace) -> int:
    user = args.user or getpass.getuser()
    target = Target(host=args.host, port=int(args.port), user=user, password=args.password, timeout=args.timeout,
                    verify_host_key=args.verify_host_key)
    args.exit_status = 0
    with Client(target) as client:
        value, text = args.run(client, args)
        if isinstance(value, Streamed):  # reads on while it prints, so inside the session
            value.print(args.json)
            return args.exit_status
    if value is not None or text is not None:  # watch prints as it goes
        print(json.dumps(value, indent=2) if args.json else text)
    return args.exit_status


def _quiet_libraries() -> None:
    """paramiko and ncclient log failures with tracebacks; dmmctl reports them in one line."""
    for name in ("paramiko", "ncclient"):
        logging.getLogger(name).addHandler(logging.NullHandler())
        logging.getLogger(name).propagate = False


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "check", None) is not None:  # what argparse cannot check alone, before connecting
            args.check(args)
        return run(args)
    except CliError as e:
        return fail(PROG, e)
    except KeyboardInterrupt:
        return fail(PROG, CliError("interrupted", 130))
    except BrokenPipeError:  # `dmmctl events --json | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 128 + 13  # what a shell reports for a command ended by SIGPIPE
    except Exception as e:  # a bug must still end in one line, never a traceback
        return fail(PROG, CliError(f"internal error: {type(e).__name__}: {e}"))


if __name__ == "__main__":
    sys.exit(main())
