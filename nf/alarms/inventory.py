"""The alarm types dmm-nf can raise (RFC 8632 §4.2 alarm inventory) and the resources
they are raised on.

Each type is an identity of module dmm-nf-alarms. Its resource is the YANG node the fault
is about, never a mobile node: a fault of a peer is one alarm on the peer entry however
many mobile nodes it hits. Every type clears by itself when its cause goes away
(`will-clear` true); an operator can also close an alarm (set-operator-state) and purge it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MODULE = "dmm-nf-alarms"
TOP = "/dmm-nf:dmm-nf"
PEERS = f"{TOP}/peers/peer"
POOLS = f"{TOP}/prefix-pools/pool"
DATAPLANE = f"{TOP}/dataplane"
TUNNELS = f"{TOP}/tunnels/tunnel"

ANCHOR_ROLES = frozenset({"lma", "maar"})
ACCESS_ROLES = frozenset({"mag", "maar"})
ALL_ROLES = ANCHOR_ROLES | ACCESS_ROLES


@dataclass(frozen=True)
class AlarmType:
    name: str  # identity of dmm-nf-alarms
    resource: str  # resource-match (XPath) of the nodes it is raised on
    severities: tuple[str, ...]  # RFC 8632 severity names it takes, least severe first
    roles: frozenset[str]  # roles whose node can raise it
    description: str  # cause and corrective action, for the inventory
    will_clear: bool = True

    @property
    def type_id(self) -> str:
        return f"{MODULE}:{self.name}"

    @property
    def runbook(self) -> str:
        return f"docs/runbooks/{self.name}.md"


def _described(text: str, name: str) -> str:
    return f"{text} Runbook: docs/runbooks/{name}.md"


SIGNALLING_PATH_DOWN = AlarmType(
    "signalling-path-down", PEERS, ("major",), ALL_ROLES, _described(
        "A peer does not answer RFC 5847 Heartbeat Requests: more than missing-heartbeats-allowed requests "
        "went unanswered, so registrations and revocations through it fail. Causes: the peer process is "
        "stopped or hung, IPv6 reachability to it is lost, or a filter drops Mobility Header (protocol 135 "
        "or UDP 5436). Check the peer and the path (dmmctl peers, dmmctl probe PEER). Clears when the "
        "peer answers again.", "signalling-path-down"))

DATA_PATH_DOWN = AlarmType(
    "data-path-down", PEERS, ("major", "critical"), ALL_ROLES, _described(
        "The BFD session carried through the tunnel to a peer went down: user traffic through that tunnel "
        "is not forwarded (critical while bindings use the tunnel, major otherwise). Causes: a deleted or "
        "wrong route or rule at either end, a wrong segment list, broken decapsulation, a blackholed core "
        "link, or the peer stopped. Audit the forwarding at both ends (dmmctl audit) and check the core "
        "path. Clears when the session comes up again.", "data-path-down"))

PEER_RESTARTED = AlarmType(
    "peer-restarted", PEERS, ("minor",), ALL_ROLES, _described(
        "A peer's RFC 5847 Restart Counter changed: it restarted and lost its mobility sessions with this "
        "node. The sessions must be registered again (fault-policy on-peer-restart says what this node "
        "does). Find why the peer restarted. Clears at the first registration with that peer that succeeds "
        "after the restart; close it if the peer had no sessions to restore.", "peer-restarted"))

REGISTRATION_FAILED = AlarmType(
    "registration-failed", PEERS, ("major",), ACCESS_ROLES, _described(
        "A Proxy Binding Update to this LMA was retransmitted until MAX_BINDACK_TIMEOUT without an "
        "acknowledgement (RFC 6275 11.8, RFC 5213 6.9.4): the mobile node lost its mobility service. "
        "Causes: the LMA is down or unreachable, or drops our updates. Check the LMA and the path; "
        "attach the mobile nodes again once it answers. Clears when a registration with that LMA is "
        "accepted again.", "registration-failed"))

REVOCATION_FAILED = AlarmType(
    "revocation-failed", PEERS, ("minor",), ANCHOR_ROLES, _described(
        "A Binding Revocation Indication to this MAG was never acknowledged (RFC 5846 7.2, 11): the "
        "bindings were removed here anyway, so the MAG may still serve mobile nodes this LMA no longer "
        "anchors. Causes: the MAG is down or unreachable, or does not support revocation. Check the MAG "
        "and its binding update list. Clears when a registration from that MAG is accepted again.",
        "revocation-failed"))

FORWARDING_MISMATCH = AlarmType(
    "forwarding-mismatch", DATAPLANE, ("major",), ALL_ROLES, _described(
        "The forwarding audit found kernel forwarding state that differs from the bindings (a missing or "
        "stale route, a wrong tunnel, segment list or device) and did not repair all of it: some mobile "
        "nodes' traffic goes astray. Causes: routes or rules changed by hand or by another daemon, a "
        "failed data-plane change. Run dmmctl audit and repair. Clears at the first audit that finds no "
        "unrepaired difference.", "forwarding-mismatch"))

PREFIX_POOL_NEARLY_EXHAUSTED = AlarmType(
    "prefix-pool-nearly-exhausted", POOLS, ("warning",), ANCHOR_ROLES, _described(
        "The share of the pool's prefixes in use reached its usage-alarm/high-threshold: new mobile nodes "
        "will be refused once it is empty. Causes: more mobile nodes than planned, bindings not released. "
        "Enlarge the pool or add one. Clears when the usage falls below high-threshold minus hysteresis.",
        "prefix-pool-nearly-exhausted"))

PREFIX_POOL_EXHAUSTED = AlarmType(
    "prefix-pool-exhausted", POOLS, ("major",), ANCHOR_ROLES, _described(
        "A mobile node was refused (PBA status 130, insufficient resources) because the pool had no "
        "prefix left. Enlarge the pool or add one. Clears with prefix-pool-nearly-exhausted, when the "
        "usage falls below high-threshold minus hysteresis.", "prefix-pool-exhausted"))

ALARM_TYPES: tuple[AlarmType, ...] = (
    SIGNALLING_PATH_DOWN, DATA_PATH_DOWN, PEER_RESTARTED, REGISTRATION_FAILED, REVOCATION_FAILED,
    FORWARDING_MISMATCH, PREFIX_POOL_NEARLY_EXHAUSTED, PREFIX_POOL_EXHAUSTED,
)


def inventory(roles: Iterable[str]) -> list[AlarmType]:
    """The alarm types a node playing `roles` can raise."""
    roles = set(roles)
    return [t for t in ALARM_TYPES if t.roles & roles]


def _literal(value: str) -> str:
    """An XPath literal for a key value (RFC 7950 §9.13: either quote, not escaped)."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def peer_resource(address: object) -> str:
    """The instance-identifier of a peer entry (JSON form, module names as prefixes)."""
    return f"{PEERS}[address='{address}']"


def pool_resource(name: str) -> str:
    return _entry(POOLS, name, "prefix pool")


def tunnel_resource(name: str) -> str:
    return _entry(TUNNELS, name, "tunnel")


def _entry(path: str, name: str, what: str) -> str:
    """The entry's instance-identifier; a name holding both quote characters has none (no
    XPath 1.0 literal can hold both) and is named by a string, as RFC 8632 §3.3 allows."""
    if "'" in name and '"' in name:
        return f"{what} {name}"
    return f"{path}[name={_literal(name)}]"


DATAPLANE_RESOURCE = DATAPLANE
