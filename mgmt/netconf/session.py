"""NETCONF sessions over SSH (RFC 6241 §2, RFC 6242) on the ``netconf`` library.

The library gives SSH, the hello exchange and both framings; this module replaces its
message handling where RFC 6241 asks for more: a malformed message gets a
``malformed-message`` rpc-error and the session stays usable under base:1.1 (base:1.0
cannot send that tag and closes), a missing message-id gets ``missing-attribute``, an
oversized message closes the session, and every operation goes to the server's dispatcher.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Iterable, Optional, Sequence, Union

from lxml import etree
from netconf import base
from netconf.error import ChannelClosed, SessionError
from netconf.server import NetconfServerSession

from mgmt.netconf.budget import OverTimeLimit, RequestAbandoned, RequestBudget
from mgmt.netconf.counters import MALFORMED
from mgmt.netconf.errors import NC_NS, RpcError, RpcErrors
from mgmt.netconf.splice import Text, pieces_of

if TYPE_CHECKING:
    from mgmt.netconf.server import NetconfServer
    from mgmt.netconf.ssh import Connection

log = logging.getLogger(__name__)

# XML from clients never resolves entities nor touches the network.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True,
                          huge_tree=False)


_CHUNK = 1 << 20  # bytes of a reply written at once (RFC 6242 chunk, or base:1.0 piece)
_CONTENT_MARK = "dmm-nf-reply-content"  # where a reply's printed content goes in its text


class FramingError(SessionError):
    """The chunked framing is broken (RFC 6242 §4.2): the session is closed."""


class _Refused(str):
    """A message received whole but not taken as XML text: ``problem`` says why (``too-big``:
    longer than the server's limit, read to its end and dropped; ``not-utf8``). Never empty,
    as the library takes an empty message for a closed channel."""

    problem: str

    def __new__(cls, problem: str) -> "_Refused":
        refused = super().__new__(cls, problem)
        refused.problem = problem
        return refused


_CHUNK_HEADER = re.compile(rb"\n#([1-9][0-9]{0,9})\n")  # RFC 6242 §4.2: no leading zero
_MAX_CHUNK_SIZE = 4294967295


class _EofStream:
    """An SSH channel whose ``recv`` raises ChannelClosed at end of stream: the library's
    chunk reader would otherwise spin on empty reads when a client vanishes mid-message."""

    def __init__(self, channel) -> None:
        self._channel = channel

    def recv(self, size: int) -> bytes:
        data = self._channel.recv(size)
        if not data:
            raise ChannelClosed(self)
        return data

    def __getattr__(self, name: str):
        return getattr(self._channel, name)


class _LimitedFraming(base.NetconfFramingTransport):
    """The library's framing with an upper bound on one message's size."""

    def __init__(self, stream, max_chunk: int, limit: int) -> None:
        super().__init__(_EofStream(stream), max_chunk, False)
        self.rbuffer = bytearray()  # grows in place as data comes
        self.limit = limit

    def _receive_10(self) -> str:
        searchfrom = 0
        dropped = False
        while True:
            eom = self.rbuffer.find(b"]]>]]>", searchfrom)
            if eom != -1:
                break
            if len(self.rbuffer) > self.limit:
                # too big: keep reading to the end of the message without keeping it
                dropped, self.rbuffer = True, self.rbuffer[-5:]
            searchfrom = max(0, len(self.rbuffer) - 5)
            self.rbuffer += self.stream.recv(self.max_chunk)
        msg, self.rbuffer = self.rbuffer[:eom], self.rbuffer[eom + 6:]
        return _Refused("too-big") if dropped or eom > self.limit else _text(msg)

    def _receive_11(self) -> str:
        parts: list[bytes] = []
        size = 0
        while True:
            chunk_size = self._chunk_header()
            if chunk_size is None:
                break
            size += chunk_size
            # past the limit the message is read to its end but nothing of it is kept
            data = self._chunk_data(chunk_size, keep=size <= self.limit)
            if size <= self.limit:
                parts.append(data)
        return _Refused("too-big") if size > self.limit else _text(b"".join(parts))

    def _chunk_header(self) -> Optional[int]:
        """The next chunk's size, or None at the end of chunks. A header that is not
        ``LF # chunk-size LF`` (1-4294967295, no leading zero) or ``LF ## LF`` closes the
        session (RFC 6242 §4.2)."""
        while len(self.rbuffer) < 4 or (not self.rbuffer.startswith(b"\n##\n")
                                         and b"\n" not in self.rbuffer[2:13]):
            if len(self.rbuffer) >= 13:
                raise FramingError(f"bad chunk header {bytes(self.rbuffer[:13])!r}")
            self.rbuffer += self.stream.recv(self.max_chunk)
        if self.rbuffer.startswith(b"\n##\n"):
            self.rbuffer = self.rbuffer[4:]
            return None
        header = _CHUNK_HEADER.match(self.rbuffer)
        if header is None or int(header.group(1)) > _MAX_CHUNK_SIZE:
            raise FramingError(f"bad chunk header {bytes(self.rbuffer[:13])!r}")
        self.rbuffer = self.rbuffer[header.end():]
        return int(header.group(1))

    def _chunk_data(self, size: int, keep: bool) -> bytes:
        """``size`` octets of chunk data; with ``keep`` False they are read and dropped as
        they come, so no chunk size a client announces can make the server hold it."""
        if not keep:
            while size > len(self.rbuffer):
                size -= len(self.rbuffer)
                self.rbuffer = bytearray(self.stream.recv(self.max_chunk))
            self.rbuffer = self.rbuffer[size:]
            return b""
        while len(self.rbuffer) < size:
            self.rbuffer += self.stream.recv(self.max_chunk)
        chunk, self.rbuffer = bytes(self.rbuffer[:size]), self.rbuffer[size:]
        return chunk

    def send_pdu(self, msg: str, new_framing: bool) -> None:
        self.send_pieces((msg,), new_framing)

    def send_pieces(self, pieces: Iterable[str], new_framing: bool) -> None:
        """One message given in pieces, written as they come in chunks of about 1 MiB: a
        full <get> of a large node is never held whole, nor copied into the library's
        16 KB writes."""
        batch: list[bytes] = []
        size = 0
        for piece in pieces:
            data = piece.encode("utf-8")
            batch.append(data)
            size += len(data)
            if size >= _CHUNK:
                self._write(b"".join(batch), new_framing, last=False)
                batch, size = [], 0
        self._write(b"".join(batch), new_framing, last=True)

    def _write(self, data: bytes, new_framing: bool, last: bool) -> None:
        if new_framing:
            out = (b"\n#%d\n%s" % (len(data), data) if data else b"") + (b"\n##\n" if last else b"")
        else:
            out = data + (b"]]>]]>" if last else b"")
        self.stream.sendall(out)


def _nc(name: str) -> str:
    return f"{{{NC_NS}}}{name}"


def _text(message: bytes) -> str:
    """A message's text; RFC 6241 §3: NETCONF messages are UTF-8."""
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError:
        return _Refused("not-utf8")


def _reply_element(rpc: Optional[etree._Element]) -> etree._Element:
    """``<rpc-reply>`` with the attributes of the ``<rpc>`` and its namespace declarations,
    prefixes included, so prefixed attributes come back unmodified (RFC 6241 §4.1, §4.2)."""
    if rpc is None:
        return etree.Element(_nc("rpc-reply"), nsmap={None: NC_NS})
    nsmap = dict(rpc.nsmap)
    if NC_NS not in nsmap.values():
        nsmap[None] = NC_NS  # cannot happen for an <rpc>, which is in this namespace
    return etree.Element(_nc("rpc-reply"), attrib=dict(rpc.attrib), nsmap=nsmap)


class Session(NetconfServerSession):
    """One client session; runs its reader in its own thread (the library's)."""

    def __init__(self, channel, server: "NetconfServer", connection: "Connection") -> None:
        # Mirrors NetconfServerSession.__init__ but installs the size-limited framing
        # before the hello exchange.
        self.server = server.ssh
        self.nc_server = server
        self.methods = server
        self.connection = connection
        self.username = channel.get_transport().get_username() or ""
        self.source_host = connection.source
        self.end_reason = "dropped"  # RFC 6470 termination-reason unless told otherwise
        self.killed_by: Optional[int] = None
        self.nacm = None  # the access control rules of the message being processed
        self._send_lock = threading.Lock()
        self._after_reply: list = []
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.closed = threading.Event()
        self.budget: Optional[RequestBudget] = None  # of the request being answered
        self._channel = channel
        sid = self._sid = self.server._allocate_session_id()
        base.NetconfSession.__init__(self, channel, False, sid)
        self.pkt_stream.stream = None  # else its __del__ would close the channel
        self.pkt_stream = _LimitedFraming(channel, base.MAXSSHBUF, server.max_message_size)
        server.register_session(self)
        # Until the hello exchange is done a close (the library's when the hello fails, or the
        # reader thread's when the client goes at once) only closes the channel; the session
        # is then ended here, with the reason, and never before it was opened.
        self._state_lock = threading.Lock()
        self._opening = True
        self._close_requested = False
        try:
            base.NetconfSession._open_session(self, True)
        except Exception as exc:
            with self._state_lock:
                self._opening = False
            # RFC 6470: bad-hello for a <hello> that is wrong, dropped for a client gone
            self.end_reason = "dropped" if isinstance(exc, (ChannelClosed, EOFError, OSError)) else "bad-hello"
            log.info("%s from %s: no NETCONF session (%s: %s)", self, self.source_host, self.end_reason, exc)
            self.close()
            return  # not raised: the library's accept thread would log it as a crash
        with self._state_lock:
            self._opening = False
            connection.established()
            server.session_opened(self)
            close_now = self._close_requested
        if close_now:
            self.close()

    def __str__(self) -> str:
        return f"Session({self.session_id}, {self.username})"

    def close(self) -> None:
        with self._state_lock:
            deferred = self._opening
            self._close_requested = self._close_requested or deferred
        if deferred:
            self._close_channel()
            return
        if self.closed.is_set():
            return
        self.closed.set()
        self._close_channel()
        self.nc_server.session_ended(self, self._sid)
        self.connection.session_ended()

    def _close_channel(self) -> None:
        try:
            base.NetconfSession.close(self)
        except (EOFError, OSError):
            pass
        self.session_id = self._sid  # the library's close forgets it; notifications still name it

    def _client_gone(self) -> bool:
        """The client closed its channel or its connection (while a request was answered)."""
        channel = self._channel
        transport = channel.get_transport()
        return channel.closed or channel.eof_received or transport is None or not transport.is_active()

    def _reader_exits(self) -> None:
        self.close()

    def send_message(self, msg: str) -> None:
        # replies (reader thread) and notifications (writer thread) must not interleave
        with self._send_lock:
            super().send_message(msg)

    def after_reply(self, callback) -> None:
        """Run ``callback`` once the reply to the current request has been sent."""
        self._after_reply.append(callback)

    # ------------------------------------------------------------------ messages
    def _send_texts(self, texts: Sequence[Text]) -> None:
        """Send one message given in pieces. If producing a piece fails half way, the
        message cannot be completed and the session is closed."""
        with self.slock:
            stream = self.pkt_stream
        if stream is None:
            return
        try:
            with self._send_lock:
                stream.send_pieces(pieces_of([base.XML_HEADER, *texts]), self.new_framing)
        except (EOFError, OSError, ChannelClosed):
            raise
        except Exception:
            log.exception("%s: a reply could not be completed; closing the session", self)
            self.close()

    def _send_reply(self, rpc: Optional[etree._Element], children: Sequence[Union[etree._Element, Text]]) -> None:
        """``children`` are elements, or XML text (a read's printed ``<data>``), which goes in
        as it is: re-parsing tens of megabytes to serialise them again would cost seconds."""
        reply = _reply_element(rpc)
        texts = [c for c in children if not isinstance(c, etree._Element)]
        reply.extend(c for c in children if isinstance(c, etree._Element))
        if not texts:
            self.send_message(etree.tostring(reply).decode())
            return
        reply.text = _CONTENT_MARK
        head, _, tail = etree.tostring(reply).decode().rpartition(_CONTENT_MARK)
        self._send_texts([head, *texts, tail])

    def _send_errors(self, rpc: Optional[etree._Element], errors: Sequence[RpcError]) -> None:
        self._send_reply(rpc, [e.to_element(self.nc_server.namespace_of) for e in errors])

    def _reader_handle_message(self, msg: str) -> None:
        if not self.session_open:
            return
        self.last_activity = time.monotonic()
        if isinstance(msg, _Refused):
            self._refuse(msg.problem)
            return
        try:
            root = etree.fromstring(msg.lstrip().encode("utf-8"), parser=_PARSER)
        except etree.XMLSyntaxError as exc:
            self._malformed(f"the message is not well-formed XML: {exc}")
            return
        document = root.getroottree().docinfo
        if document.doctype:
            self._malformed("a NETCONF message holds no document type declaration (RFC 6241 §3.2)")
            return
        if (document.encoding or "UTF-8").upper() not in ("UTF-8", "UTF8"):
            self._malformed(f"the message declares encoding {document.encoding}; NETCONF messages are UTF-8")
            return
        if root.tag != _nc("rpc"):
            self._malformed(f"expected an rpc element, got {etree.QName(root).localname}")
            return
        if root.get("message-id") is None:
            self.nc_server.services.bad_rpc(self)
            self.nc_server.counters.rpc_answered(MALFORMED, "missing-attribute")
            self._send_errors(root, [RpcError(
                "missing-attribute", "the rpc element has no message-id", "rpc",
                info=[(_nc("bad-attribute"), "message-id"), (_nc("bad-element"), "rpc")])])
            return
        self.nc_server.services.rules_for_message(self)
        operations = [child for child in root if isinstance(child.tag, str)]
        operation = self.nc_server.operation_label(operations[0]) if len(operations) == 1 else MALFORMED
        errors: Sequence[RpcError] = ()
        limit = self.nc_server.admission.limits.request_time_limit
        self.budget = RequestBudget(limit, self._client_gone) if limit is not None else None
        try:
            if len(operations) != 1:
                raise RpcError("malformed-message" if self.new_framing else "operation-failed",
                               "an rpc must hold exactly one operation", "rpc")
            children = self.nc_server.dispatch(self, operations[0])
        except RequestAbandoned:
            self.nc_server.counters.read_abandoned()
            log.info("%s: %s abandoned after %.1f s: the client went before the reply", self, operation,
                     self.budget.elapsed())
            self.close()
            return
        except OverTimeLimit as err:
            self.nc_server.counters.read_over_time_limit()
            log.info("%s: %s ended after its time limit of %g s", self, operation, err.limit)
            errors = [err]
        except RpcError as err:
            errors = [err]
        except RpcErrors as errs:
            errors = errs.errors or [RpcError("operation-failed", "the operation failed")]
        except Exception:  # a bug must not take the session down
            log.exception("%s: operation failed unexpectedly", self)
            errors = [RpcError("operation-failed", "internal error")]
        # counted before the reply leaves, so a client that has its reply sees it counted
        self.nc_server.counters.rpc_answered(operation, errors[0].tag if errors else None)
        if errors:
            self._send_errors(root, self.nc_server.services.redact_errors(self, list(errors)))
        else:
            self._send_reply(root, children)
            self.last_activity = time.monotonic()
            self.nc_server.services.rpc_done(self, ok=True)
            callbacks, self._after_reply = self._after_reply, []
            for callback in callbacks:
                callback()
            if operations[0].tag == _nc("close-session"):
                self.end_reason = "closed"
                self.close()
            return
        self._after_reply = []
        self.nc_server.services.rpc_done(self, ok=False)
        self.last_activity = time.monotonic()

    def _refuse(self, problem: str) -> None:
        if problem == "not-utf8":
            self._malformed("the message is not UTF-8 (RFC 6241 §3)")
            return
        # too big: read to its end and dropped, so the session can go on
        self.nc_server.services.bad_rpc(self)
        self.nc_server.counters.rpc_answered(MALFORMED, "too-big")
        self._send_errors(None, [RpcError(
            "too-big", f"the message is longer than this server takes ({self.pkt_stream.limit} octets)", "rpc")])

    def _malformed(self, message: str) -> None:
        # RFC 6241 §4.3: malformed-message is a base:1.1 tag; a base:1.0 peer gets the
        # session closed instead.
        self.nc_server.services.bad_rpc(self)
        self.nc_server.counters.rpc_answered(MALFORMED, "malformed-message")
        if not self.new_framing:
            raise SessionError(message, "malformed message on a base:1.0 session")
        self._send_errors(None, [RpcError("malformed-message", message, "rpc")])
