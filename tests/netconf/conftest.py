"""Fixtures for the NETCONF server tests: a server on a free loopback port with the
example-server test module, and ncclient sessions to it over real SSH."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import libyang
import pytest
from ncclient import manager
from ncclient.transport import session as nc_session

from mgmt.netconf.server import NetconfServer, ServerHooks

YANG_DIR = Path(__file__).resolve().parent / "yang"
SRV_NS = "urn:example:server"
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


class ServerFactory:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.servers: list[NetconfServer] = []
        self.host_key = state_dir / "host_key"

    def start(self, hooks: ServerHooks | None = None, **kwargs) -> NetconfServer:
        server = NetconfServer(server_context(), self.state_dir, port=0, address="::1",
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
