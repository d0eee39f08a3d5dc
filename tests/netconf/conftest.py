"""Fixtures for the NETCONF server tests: a server on a free loopback port with the
example-server test module, and ncclient sessions to it over real SSH."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import libyang
import pytest
from lxml import etree
from ncclient import manager
from ncclient.transport import session as nc_session

from mgmt.netconf.server import NetconfServer, ServerHooks

YANG_DIR = Path(__file__).resolve().parent / "yang"
SRV_NS = "urn:example:server"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
USERS = {"admin": "admin", "oper": "secret"}

nc_session.TICK = 0.002  # ncclient polls its reader; the 0.1 s default slows every RPC


def server_context() -> libyang.Context:
    ctx = libyang.Context(str(YANG_DIR))
    ctx.load_module("example-server")
    return ctx


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def error_path_selects(error, data: etree._Element) -> list[etree._Element]:
    """What an rpc-error's error-path selects below ``data`` (a <data> or <config> element
    standing for the root of all data models), evaluated as the XPath it is with the
    namespace declarations in scope on the <rpc-error> (RFC 6241 §4.3). ``error`` is an
    ncclient RPCError, an <rpc-error> element or a reply holding one."""
    element = getattr(error, "xml", error)
    if element.tag != f"{{{NC_NS}}}rpc-error":
        element = element.find(f".//{{{NC_NS}}}rpc-error")
    path = element.findtext(f"{{{NC_NS}}}error-path").strip()
    assert path.startswith("/"), path
    return data.xpath("." + path, namespaces={prefix: ns for prefix, ns in element.nsmap.items() if prefix})


class ServerFactory:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.servers: list[NetconfServer] = []
        self.host_key = state_dir / "host_key"

    def start(self, hooks: ServerHooks | None = None, ctx: libyang.Context | None = None,
              address: str = "::1", **kwargs) -> NetconfServer:
        server = NetconfServer(ctx or server_context(), self.state_dir, port=0, address=address,
                               users=USERS, host_key_path=self.host_key, hooks=hooks, **kwargs)
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.close()
        self.servers.clear()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture
def server(servers: ServerFactory) -> NetconfServer:
    return servers.start()


def connect(server: NetconfServer, user: str = "admin", password: str | None = None,
            **kwargs) -> manager.Manager:
    return manager.connect(host="::1", port=server.port, username=user,
                           password=password if password is not None else USERS[user],
                           hostkey_verify=False, allow_agent=False, look_for_keys=False,
                           timeout=10, **kwargs)


@pytest.fixture
def client(server: NetconfServer) -> Iterator[manager.Manager]:
    with connect(server) as mgr:
        yield mgr


class RawClient:
    """A NETCONF client speaking the framing by hand (paramiko only), for messages no
    well-behaved client library would send."""

    def __init__(self, server: NetconfServer, base11: bool = True, hello: str | None = None) -> None:
        """``hello`` replaces the client's <hello> message."""
        import paramiko

        self.transport = paramiko.Transport(("::1", server.port))
        self.transport.connect(username="admin", password=USERS["admin"])
        self.chan = self.transport.open_session()
        self.chan.settimeout(5)
        self.chan.invoke_subsystem("netconf")
        self.buf = b""
        self.base11 = False
        self.hello = self._read_eom()
        caps = ["urn:ietf:params:netconf:base:1.0"] + (["urn:ietf:params:netconf:base:1.1"] if base11 else [])
        self.send_10(hello or ('<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>'
                               + "".join(f"<capability>{c}</capability>" for c in caps)
                               + "</capabilities></hello>"))
        self.base11 = base11

    def _read_eom(self) -> str:
        while b"]]>]]>" not in self.buf:
            data = self.chan.recv(65536)
            if not data:
                raise EOFError("channel closed")
            self.buf += data
        msg, _, self.buf = self.buf.partition(b"]]>]]>")
        return msg.decode()

    def _read_chunked(self) -> str:
        parts = []
        while True:
            while b"\n" not in self.buf[2:] or len(self.buf) < 4:
                data = self.chan.recv(65536)
                if not data:
                    raise EOFError("channel closed")
                self.buf += data
            header, _, rest = self.buf[2:].partition(b"\n")
            if header == b"#":
                self.buf = rest
                return b"".join(parts).decode()
            size = int(header)
            while len(rest) < size:
                data = self.chan.recv(65536)
                if not data:
                    raise EOFError("channel closed")
                rest += data
            parts.append(rest[:size])
            self.buf = rest[size:]

    def send_10(self, text: str) -> None:
        self.chan.sendall(text.encode() + b"]]>]]>")

    def send(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        if not self.base11:
            self.send_10(data.decode())
            return
        self.chan.sendall(b"\n#%d\n" % len(data) + data + b"\n##\n")

    def receive(self) -> str:
        return self._read_chunked() if self.base11 else self._read_eom()

    def rpc(self, body: str, message_id: str = "1") -> str:
        self.send(f'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="{message_id}">{body}</rpc>')
        return self.receive()

    def closed(self) -> bool:
        return self.chan.closed or self.chan.eof_received or not self.transport.is_active()

    def close(self) -> None:
        self.transport.close()
