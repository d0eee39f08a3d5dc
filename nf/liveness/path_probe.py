"""Per-mobile-node path probes: does *this* node's forwarding work at both ends?

A BFD session proves the tunnel between two nodes; a mobile node's traffic also needs its
own state: its prefix route and SID at the anchor, its access route and uplink rule at the
access gateway. A probe for one mobile node (docs/liveness.md) is a short UDP exchange on
`data-path/probe-port` between the two nodes' probe addresses:

* the anchor sends PROBE from its probe address to an address inside the node's prefix (the
  prefix's first address, the Subnet-Router anycast address no host uses, RFC 4291 §2.6.1),
  so the packet takes the node's own downlink route, SID and encapsulation; the access
  gateway delivers what comes from the anchor's probe address locally (its probe-delivery
  rule), checks the node's access route and uplink rule by kernel route lookups made as for
  the node's packets (`ip -6 route get fibmatch` with its source and access link), and
  answers REPORT from its probe address, through the tunnel's uplink rule;
* a probe started at the access gateway sends REQUEST to the anchor (through the tunnel),
  which answers with the same PROBE into the node's prefix, and also with a REPORT of its own
  checks straight to the gateway's probe address: when the node's route at the anchor is
  broken, the PROBE is lost but the gateway still learns what the anchor found.

The probe passes when the exchange completes and every check at both ends finds the node's
own route; a deleted route for one node fails its probe while the others' pass.

Only what is authorised is answered: a REQUEST or PROBE from the probe address of a
configured peer, about a prefix that one of our bindings with that very peer holds.

Wire format (all integers in network order)::

    0: version (1)   1: type (1 REQUEST, 2 PROBE, 3 REPORT)   2: reserved (0)   3: prefix length
    4: nonce (8 octets)   12: prefix (16 octets)
    28: the sender's checks, JSON text (UTF-8) to the end of the datagram, at most 1,200 octets
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from nf.roles.base import BindingForwarding

log = logging.getLogger(__name__)

VERSION = 1
REQUEST, PROBE, REPORT = 1, 2, 3
_HEADER = struct.Struct("!BBBB8s16s")
MAX_BODY = 1200
MAX_PENDING = 256
ANSWERS_PER_SECOND = 100  # a responder never answers more (each answer is one datagram)
IPV6_FREEBIND = 78


class PathProbeError(Exception):
    """A datagram that is not a path probe."""


@dataclass(frozen=True, slots=True)
class ProbeMessage:
    type: int
    nonce: bytes
    prefix: IPv6Network
    checks: tuple[dict, ...] = ()

    def encode(self) -> bytes:
        body = json.dumps(list(self.checks), separators=(",", ":"), ensure_ascii=False).encode()
        if len(body) > MAX_BODY:
            body = json.dumps([{"check": "report", "ok": False, "actual": "checks too long to send"}]).encode()
        return _HEADER.pack(VERSION, self.type, 0, self.prefix.prefixlen, self.nonce,
                            self.prefix.network_address.packed) + body


def decode(data: bytes) -> ProbeMessage:
    if len(data) < _HEADER.size or len(data) > _HEADER.size + MAX_BODY:
        raise PathProbeError(f"bad length {len(data)}")
    version, kind, _reserved, length, nonce, prefix = _HEADER.unpack_from(data)
    if version != VERSION or kind not in (REQUEST, PROBE, REPORT) or length > 128:
        raise PathProbeError(f"version {version}, type {kind}, prefix length {length}")
    try:
        network = IPv6Network((int.from_bytes(prefix, "big"), length))
        checks = json.loads(data[_HEADER.size:] or b"[]")
    except ValueError as error:
        raise PathProbeError(str(error)) from None
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise PathProbeError("checks are not a list of objects")
    return ProbeMessage(kind, nonce, network, tuple(checks))


@dataclass(frozen=True, slots=True)
class PathProbeResult:
    mn_identifier: str
    prefix: IPv6Network
    peer: IPv6Address
    passed: bool
    rtt_us: int | None  # None: no answer
    checks: tuple[dict, ...]  # {"node", "check", "ok", "expected", "actual"} from both ends
    failure: str | None  # what failed, one line

    @property
    def answered(self) -> bool:
        return self.rtt_us is not None


LookupChecks = Callable[[BindingForwarding, IPv6Network], list[dict]]


@dataclass(slots=True)
class _Pending:
    answer: asyncio.Future  # the PROBE (at an access gateway) or REPORT (at an anchor) awaited
    awaiting: int
    anchor_report: tuple[dict, ...] = ()  # at an access gateway: the anchor's checks, if they came


def _failed(checks) -> list[str]:
    return [f"{c.get('node')} {c.get('check')}: {c.get('actual')}" for c in checks if not c.get("ok")]


class PathProber:
    """The probe socket of a node with a probe address, and the probes it sends and answers."""

    def __init__(self, *, own_probe: IPv6Address, port: int, node_name: str,
                 forwarding_of: Callable[[str | None], list[BindingForwarding]],
                 binding_for_prefix: Callable[[IPv6Network], BindingForwarding | None],
                 peer_probe: Callable[[IPv6Address], IPv6Address | None],
                 local_checks: LookupChecks, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.own_probe = own_probe
        self.port = port
        self.node_name = node_name
        self._forwarding_of = forwarding_of
        self._binding_for_prefix = binding_for_prefix
        self._peer_probe = peer_probe
        self._local_checks = local_checks
        self._monotonic = monotonic
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[bytes, _Pending] = {}
        self._answer_tokens = float(ANSWERS_PER_SECOND)
        self._tokens_at = monotonic()
        self.counters: Counter[str] = Counter()  # sent, received, answered, drop:<reason>

    # ----- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)  # send from the probe address (a local route)
            sock.bind(("::", self.port))
        except OSError as error:
            sock.close()
            raise OSError(error.errno, f"cannot bind the path probe socket to [::]:{self.port}: "
                                       f"{error.strerror}") from None
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._on_readable)

    async def stop(self) -> None:
        if self._sock is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    # ----- probing --------------------------------------------------------------------------
    async def probe(self, binding: BindingForwarding, timeout: float) -> list[PathProbeResult]:
        """One probe per prefix of the binding, from whichever end this node is."""
        return [await self._probe_prefix(binding, prefix, timeout) for prefix in binding.prefixes]

    async def _probe_prefix(self, binding: BindingForwarding, prefix: IPv6Network,
                            timeout: float) -> PathProbeResult:
        peer_probe = self._peer_probe(binding.peer)
        if peer_probe is None:
            return self._result(binding, prefix, None, (), f"peer {binding.peer} has no probe address configured")
        if self._sock is None or len(self._pending) >= MAX_PENDING:
            return self._result(binding, prefix, None, (), "path probes are not running or too many are pending")
        nonce = secrets.token_bytes(8)
        pending = self._pending[nonce] = _Pending(self._loop.create_future(),
                                                  PROBE if not binding.anchor_side else REPORT)
        started = self._monotonic()
        own = tuple(self._local_checks(binding, prefix))
        try:
            if binding.anchor_side:
                self._send(ProbeMessage(PROBE, nonce, prefix, own), prefix.network_address)
            else:
                self._send(ProbeMessage(REQUEST, nonce, prefix), peer_probe)
            answer: ProbeMessage = await asyncio.wait_for(pending.answer, timeout)
        except asyncio.TimeoutError:
            own += pending.anchor_report
            wait = f"{timeout * 1000:.0f} ms"
            lost = (f"no report from the access gateway within {wait}: the probe through the node's route or "
                    "the report through the tunnel was lost" if binding.anchor_side else
                    f"no probe from the anchor within {wait}: the request through the tunnel or the probe "
                    "through the node's route at the anchor was lost")
            return self._result(binding, prefix, None, own, "; ".join([*_failed(own), lost]))
        finally:
            self._pending.pop(nonce, None)
        rtt = int((self._monotonic() - started) * 1e6)
        checks = own + answer.checks if binding.anchor_side else answer.checks + own
        return self._result(binding, prefix, rtt, checks, "; ".join(_failed(checks)) or None)

    def _result(self, binding, prefix, rtt, checks, failure) -> PathProbeResult:
        return PathProbeResult(binding.mn_identifier, prefix, binding.peer, failure is None and rtt is not None,
                               rtt, tuple(checks), failure)

    # ----- receiving ------------------------------------------------------------------------
    def _on_readable(self) -> None:
        for _ in range(64):
            try:
                data, ancillary, _flags, source = self._sock.recvmsg(_HEADER.size + MAX_BODY + 1, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.counters["drop:receive-error"] += 1
                return
            self._datagram(data, IPv6Address(source[0].split("%")[0]))

    def _datagram(self, data: bytes, source: IPv6Address) -> None:
        try:
            message = decode(data)
        except PathProbeError:
            self.counters["drop:malformed"] += 1
            return
        self.counters["received"] += 1
        pending = self._pending.get(message.nonce)
        if pending is not None and not pending.answer.done():
            if message.type == pending.awaiting:
                pending.answer.set_result(message)
                return
            if message.type == REPORT:  # the anchor's checks, sent beside a probe that may be lost
                pending.anchor_report = message.checks
                return
        if message.type == REPORT:
            self.counters["drop:unexpected"] += 1
            return
        binding = self._binding_for_prefix(message.prefix)
        if binding is None or binding.mn_identifier is None:
            self.counters["drop:unknown-prefix"] += 1
            return
        if self._peer_probe(binding.peer) != source:
            self.counters["drop:unauthorised-source"] += 1
            return
        if not self._may_answer():
            self.counters["drop:rate-limited"] += 1
            return
        checks = tuple(self._local_checks(binding, message.prefix))
        if message.type == REQUEST and binding.anchor_side:  # the access gateway asks us to probe
            self._send(ProbeMessage(PROBE, message.nonce, message.prefix, checks), message.prefix.network_address)
            self._send(ProbeMessage(REPORT, message.nonce, message.prefix, checks), source)
        elif message.type == PROBE and not binding.anchor_side:  # the anchor probes through us
            self._send(ProbeMessage(REPORT, message.nonce, message.prefix, message.checks + checks), source)
        else:
            self.counters["drop:unexpected"] += 1
            return
        self.counters["answered"] += 1

    def _may_answer(self) -> bool:
        now = self._monotonic()
        self._answer_tokens = min(float(ANSWERS_PER_SECOND),
                                  self._answer_tokens + (now - self._tokens_at) * ANSWERS_PER_SECOND)
        self._tokens_at = now
        if self._answer_tokens < 1:
            return False
        self._answer_tokens -= 1
        return True

    def _send(self, message: ProbeMessage, destination: IPv6Address) -> None:
        pktinfo = struct.pack("16sI", self.own_probe.packed, 0)  # struct in6_pktinfo: the source address
        try:
            self._sock.sendmsg([message.encode()], [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo)],
                               0, (str(destination), self.port))
            self.counters["sent"] += 1
        except OSError as error:  # no route: as lost as a dropped packet, and said so
            self.counters["send-error"] += 1
            log.debug("path probe to %s not sent: %s", destination, error)
