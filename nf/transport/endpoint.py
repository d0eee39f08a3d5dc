"""The socket loop shared by the UDP and raw IPv6 transports.

A non-blocking socket registered with ``loop.add_reader``: on each readiness event the
socket is drained until it would block (at most RECEIVE_BATCH datagrams), which measured
faster than ``loop.create_datagram_endpoint`` (one datagram per event) and gives access to
``recvmsg`` ancillary data, which the asyncio datagram transport hides (see
docs/performance.md, module bench_transport).

The destination address of a received datagram comes from the IPV6_PKTINFO ancillary data
when the socket is bound to the unspecified address; when it is bound to one address every
datagram was sent to that address, so the cheaper ``recvfrom`` is used.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from ipaddress import IPv6Address

from nf.transport.base import (
    MAX_MH_LENGTH,
    PMIP6_CNTL_PORT,
    RECEIVE_BATCH,
    AddressCache,
    DatagramHandler,
    ThrottledLog,
    TransportCounters,
    TransportError,
)

_PKTINFO_SPACE = socket.CMSG_SPACE(20)  # struct in6_pktinfo: 16-octet address + ifindex
_UNSPECIFIED = IPv6Address("::")
_RECEIVE_BUFFER = 4 * 1024 * 1024  # absorbs bursts; the kernel caps it at net.core.rmem_max

log = logging.getLogger(__name__)


class SocketEndpoint:
    """Receives and sends Mobility Header datagrams on one IPv6 socket (see module doc)."""

    def __init__(self, address: IPv6Address | str, port: int, handler: DatagramHandler) -> None:
        try:
            self._address = IPv6Address(address)
        except (ValueError, TypeError) as exc:
            raise TransportError(f"not an IPv6 address: {address!r}") from exc
        if not 0 <= port <= 0xFFFF:
            raise TransportError(f"port out of range: {port}")
        self._port = port
        self._handler = handler
        self._sock: socket.socket | None = None
        self._bound_port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._use_pktinfo = self._address == _UNSPECIFIED
        self._addresses = AddressCache()
        self._send_log = ThrottledLog(log)
        self._receive_log = ThrottledLog(log)
        self.counters = TransportCounters()

    # --- provided by each transport --------------------------------------------------------
    carries_ports = True  # False on raw IPv6: no ports, source port reported as 0

    def _open_socket(self) -> socket.socket:
        raise NotImplementedError

    def local_name(self) -> str:
        """The local end as an operator names it in a message: ``UDP [::1]:5436``."""
        return f"UDP [{self._address}]:{self._port}"

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Open, bind and start reading; a second start without close is an error."""
        if self._sock is not None:
            raise TransportError("transport already started")
        loop = asyncio.get_running_loop()
        local = _sockaddr(self._address, self._port)
        sock = self._open_socket()
        try:
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            except OSError:
                pass  # a smaller buffer only means less room for bursts
            if self._use_pktinfo:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            sock.bind(local)
        except OSError as exc:
            sock.close()
            reason = (exc.strerror or str(exc)).lower()
            raise TransportError(f"cannot bind {self.local_name()}: {reason}") from exc
        self._sock = sock
        self._loop = loop
        self._bound_port = sock.getsockname()[1]
        loop.add_reader(sock.fileno(), self._on_readable)

    def close(self) -> None:
        """Stop reading and release the socket; start() may be called again afterwards."""
        if self._sock is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None
        self._loop = None

    @property
    def local_address(self) -> IPv6Address:
        return self._address

    @property
    def local_port(self) -> int:
        """The bound port (the kernel's choice when configured as 0); 0 before start()."""
        return self._bound_port if self._sock is not None else 0

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    # --- sending --------------------------------------------------------------------------
    def send(self, data: bytes, dst: IPv6Address, port: int = PMIP6_CNTL_PORT,
             src: IPv6Address | None = None) -> bool:
        """Send one datagram; returns whether the kernel took it. Never raises OSError.

        `src` picks the source address (IPV6_PKTINFO) on a socket bound to the unspecified
        address, so the sender knows the pseudo-header its checksum must cover.
        """
        counters = self.counters
        if len(data) > MAX_MH_LENGTH:
            counters.oversize_dropped += 1
            self._send_log.warning("dropped an outgoing datagram of %d octets (limit %d)",
                                   len(data), MAX_MH_LENGTH)
            return False
        sock = self._sock
        if sock is None:
            counters.send_errors += 1
            self._send_log.warning("send to [%s]:%d on a closed transport", dst, port)
            return False
        try:
            if src is None:
                sock.sendto(data, _sockaddr(dst, port if self.carries_ports else 0))
            else:
                info = src.packed + _scope_index(src).to_bytes(4, "little")
                sock.sendmsg([data], [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, info)],
                              0, _sockaddr(dst, port if self.carries_ports else 0))
        except (OSError, TransportError) as exc:
            counters.send_errors += 1
            self._send_log.warning("send to [%s]:%d failed: %s", dst, port, exc)
            return False
        counters.datagrams_out += 1
        counters.bytes_out += len(data)
        return True

    # --- receiving ------------------------------------------------------------------------
    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        if self._use_pktinfo:
            self._drain_with_pktinfo(sock)
        else:
            self._drain_bound(sock)

    def _drain_bound(self, sock: socket.socket) -> None:
        dst = self._address
        recvfrom = sock.recvfrom
        for _ in range(RECEIVE_BATCH):
            try:
                data, sockaddr = recvfrom(MAX_MH_LENGTH + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._receive_failed(exc)
                return
            self._deliver(data, sockaddr, dst)

    def _drain_with_pktinfo(self, sock: socket.socket) -> None:
        recvmsg = sock.recvmsg
        for _ in range(RECEIVE_BATCH):
            try:
                data, ancdata, flags, sockaddr = recvmsg(MAX_MH_LENGTH + 1, _PKTINFO_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._receive_failed(exc)
                return
            dst = None
            for level, kind, value in ancdata:
                if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                    dst = self._addresses.from_packed(value[:16])
            if dst is None:
                self.counters.receive_errors += 1
                self._receive_log.warning("datagram from %s without IPV6_PKTINFO dropped",
                                          sockaddr[0])
                continue
            self._deliver(data, sockaddr, dst)

    def _deliver(self, data: bytes, sockaddr: tuple, dst: IPv6Address) -> None:
        counters = self.counters
        if len(data) > MAX_MH_LENGTH:
            counters.oversize_dropped += 1
            self._receive_log.warning("dropped an incoming datagram from %s over %d octets",
                                      sockaddr[0], MAX_MH_LENGTH)
            return
        counters.datagrams_in += 1
        counters.bytes_in += len(data)
        src = self._addresses.from_text(sockaddr[0], sockaddr[3])
        try:
            self._handler(data, src, sockaddr[1] if self.carries_ports else 0, dst)
        except Exception:  # a faulty handler must not stop the transport
            counters.handler_errors += 1
            log.exception("handler failed on a datagram from [%s]", src)

    def _receive_failed(self, exc: OSError) -> None:
        # e.g. ECONNREFUSED queued by an earlier ICMP error: the socket itself is still fine.
        self.counters.receive_errors += 1
        self._receive_log.warning("receive failed: %s", exc)


def _sockaddr(address: IPv6Address, port: int) -> tuple[str, int, int, int]:
    """The AF_INET6 socket address of `address`, its scope given as an interface index."""
    return socket.inet_ntop(socket.AF_INET6, address.packed), port, 0, _scope_index(address)


def _scope_index(address: IPv6Address) -> int:
    """The interface index of a scoped (link-local) address, 0 when it has none."""
    scope = address.scope_id
    if not scope:
        return 0
    if scope.isdigit():
        return int(scope)
    try:
        return socket.if_nametoindex(scope)
    except OSError as exc:
        raise TransportError(f"unknown interface in {address}: {exc}") from exc
