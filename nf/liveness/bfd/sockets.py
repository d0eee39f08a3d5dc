"""The engine's sockets: one receiver on the multihop port, one sender per session.

The receiver asks for IPV6_RECVPKTINFO (the destination address, to demultiplex a first
packet by address pair, RFC 5883 §4.1) and IPV6_RECVHOPLIMIT (the hop-limit check). Each
session sends from its own socket bound to its local address and to a source port of
49152-65535 that no other session of ours uses (RFC 5881 §4, carried over to multihop by
RFC 5883 §5), with hop limit 255 (RFC 5881 §5). Binding to a local address is also what a
tunnel needs: the route the kernel picks for that source and destination carries the
packets, whatever device it leads to.
"""
from __future__ import annotations

import errno
import random
import socket
from ipaddress import IPv6Address

from .errors import BfdBindError

SOURCE_PORTS = range(49152, 65536)  # RFC 5881 §4
HOP_LIMIT = 255  # RFC 5881 §5
IPV6_FREEBIND = 78  # Linux 4.15+; the socket module of Python 3.11 has no name for it
_RECEIVE_BUFFER = 4 * 1024 * 1024  # a burst of 1,000 sessions' packets fits


def open_receiver(address: IPv6Address | None, port: int) -> socket.socket:
    """A non-blocking UDP socket on [address or ::]:port with the ancillary data on."""
    shown = address if address is not None else "::"
    options = ((socket.IPV6_RECVPKTINFO, 1), (socket.IPV6_RECVHOPLIMIT, 1))
    sock = _bound(shown, port, options, _RECEIVE_BUFFER)
    if sock is None:
        raise BfdBindError(shown, port, "address already in use")
    return sock


def open_sender(local: IPv6Address, ports_in_use: set[int], rng: random.Random, *,
                nonlocal_source: bool = False) -> socket.socket:
    """A non-blocking UDP socket bound to [local]:P, P a free port of SOURCE_PORTS.

    Tries the ports from a random one on, skipping `ports_in_use` (ours) and any port
    another program holds; BfdBindError when the address is not local or none is free.
    `nonlocal_source` binds with IPV6_FREEBIND: a data-path probe address is a local route
    (table local), not an address of an interface (docs/liveness.md).
    """
    start = rng.randrange(len(SOURCE_PORTS))
    count = len(SOURCE_PORTS)
    for step in range(count):
        port = SOURCE_PORTS[(start + step) % count]
        if port in ports_in_use:
            continue
        # It never reads: a small buffer is enough for what might arrive anyway.
        options = ((socket.IPV6_UNICAST_HOPS, HOP_LIMIT),) + (((IPV6_FREEBIND, 1),) if nonlocal_source else ())
        sock = _bound(local, port, options, 4096)
        if sock is not None:
            return sock
    raise BfdBindError(local, 0, "no free source port in 49152-65535")


def _bound(address: object, port: int, options: tuple[tuple[int, int], ...],
           buffer: int) -> socket.socket | None:
    """A non-blocking IPv6-only UDP socket with `options` (IPPROTO_IPV6) bound to
    [address]:port; None when the port is taken, BfdBindError for any other failure."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError as exc:
        raise BfdBindError(address, port, _cause(exc)) from None
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        for name, value in options:
            sock.setsockopt(socket.IPPROTO_IPV6, name, value)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
        except OSError:
            pass  # a smaller buffer only means less room for bursts
        sock.bind((str(address), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            return None
        raise BfdBindError(address, port, _cause(exc)) from None
    return sock


def _cause(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "address not available on this host"
    if exc.errno == errno.EMFILE:
        return "too many open files (raise the RLIMIT_NOFILE soft limit)"
    return exc.strerror or str(exc)
