"""The NETCONF port cannot be stalled or filled: on the wire, with raw TCP connections,
paramiko and ncclient against a server on 127.0.0.1 (clients bind other 127/8 addresses to
come from other sources). docs/security.md, "Management plane"."""
from __future__ import annotations

import logging
import socket
import time

import paramiko
import pytest
from ncclient import manager

from mgmt.netconf.admission import Limits
from tests.netconf.conftest import USERS
from tests.waiting import wait_for

HOST = "127.0.0.1"
GENEROUS = 5.0  # seconds: far above a login here (~0.1 s), far below a stall (15 s per idle connection before)


def idle(server, source: str = HOST) -> socket.socket:
    """A TCP connection from ``source`` that never speaks."""
    sock = socket.create_connection((HOST, server.port), source_address=(source, 0))
    sock.settimeout(10)
    return sock


def login(server, user: str = "admin", password: str | None = None) -> manager.Manager:
    return manager.connect(host=HOST, port=server.port, username=user,
                           password=password if password is not None else USERS[user],
                           hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=10)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed ``sock`` (whatever it sent before)."""
    sock.settimeout(0.05)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def start(servers, **limits) -> object:
    return servers.start(address=HOST, limits=Limits(**limits))


def test_idle_connections_do_not_delay_another_clients_login(servers):
    server = start(servers, max_pending=64)
    held = [idle(server, f"127.0.0.{n}") for n in range(2, 32)] + [idle(server) for _ in range(5)]
    try:
        started = time.monotonic()
        with login(server) as client:
            took = time.monotonic() - started
            assert client.session_id is not None
        assert took < GENEROUS
        assert not any(closed_by_server(sock) for sock in held)  # they wait for their own login timeout
        assert server.admission.snapshot().pending == len(held)
    finally:
        for sock in held:
            sock.close()


def test_a_connection_that_does_not_log_in_within_the_login_timeout_is_closed_and_counted(servers, caplog):
    server = start(servers, login_timeout=1.0)
    caplog.set_level(logging.INFO, "mgmt.netconf.ssh")
    with idle(server) as sock:
        wait_for(lambda: closed_by_server(sock), "the server closing the idle connection", timeout=GENEROUS)
    assert server.admission.snapshot().login_timeouts == 1
    assert server.admission.snapshot().pending == 0
    assert "no NETCONF session within 1 s (not authenticated)" in caplog.text


def test_an_authenticated_connection_that_opens_no_session_is_closed_at_the_login_timeout(servers):
    server = start(servers, login_timeout=1.0)
    transport = paramiko.Transport((HOST, server.port))
    try:
        transport.connect(username="admin", password=USERS["admin"])
        wait_for(lambda: not transport.is_active(), "the server closing the connection", timeout=GENEROUS)
    finally:
        transport.close()
    assert server.admission.snapshot().login_timeouts == 1


def test_a_logged_in_session_is_not_closed_by_the_login_timeout(servers):
    server = start(servers, login_timeout=1.0)
    with login(server) as client:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            client.get_config("running")  # a session in use, past the login timeout
    assert server.admission.snapshot().login_timeouts == 0


def test_connections_beyond_the_per_source_pending_limit_are_closed_at_once_and_counted(servers):
    server = start(servers, max_pending_per_source=2)
    held = [idle(server, "127.0.0.2"), idle(server, "127.0.0.2")]
    try:
        wait_for(lambda: server.admission.snapshot().pending == 2, "two pending connections")
        with idle(server, "127.0.0.2") as third:
            wait_for(lambda: closed_by_server(third), "the third connection closed", timeout=GENEROUS)
        assert server.admission.snapshot().refused["pending-per-source-limit"] == 1
        with login(server):  # another source still logs in
            pass
    finally:
        for sock in held:
            sock.close()


def test_connections_beyond_the_global_pending_limit_are_closed_at_once_and_counted(servers):
    server = start(servers, max_pending=3)
    held = [idle(server, f"127.0.0.{n}") for n in (2, 3, 4)]
    try:
        wait_for(lambda: server.admission.snapshot().pending == 3, "three pending connections")
        with idle(server, "127.0.0.5") as fourth:
            wait_for(lambda: closed_by_server(fourth), "the fourth connection closed", timeout=GENEROUS)
        assert server.admission.snapshot().refused["pending-limit"] == 1
    finally:
        for sock in held:
            sock.close()
    wait_for(lambda: server.admission.snapshot().pending == 0, "the slots given back")
    with login(server):  # the slots came back with the connections
        pass


def test_sessions_beyond_the_per_source_limit_are_refused_with_resource_shortage(servers):
    server = start(servers, max_sessions_per_source=2)
    first, second = login(server), login(server)
    try:
        with pytest.raises(paramiko.ChannelException) as by_ncclient:
            login(server)
        assert by_ncclient.value.code == paramiko.OPEN_FAILED_RESOURCE_SHORTAGE
        transport = paramiko.Transport((HOST, server.port))
        try:
            transport.connect(username="admin", password=USERS["admin"])
            with pytest.raises(paramiko.ChannelException) as refused:
                transport.open_session()
            assert refused.value.code == paramiko.OPEN_FAILED_RESOURCE_SHORTAGE  # RFC 4254 §5.1
        finally:
            transport.close()
        assert server.admission.snapshot().refused["session-per-source-limit"] == 2
    finally:
        first.close_session()
    with login(server):  # a closed session gives its slot back
        pass
    second.close_session()


def test_sessions_beyond_the_global_limit_are_refused_and_counted(servers):
    server = start(servers, max_sessions=1)
    with login(server):
        with pytest.raises(paramiko.ChannelException) as refused:
            login(server)
        assert refused.value.code == paramiko.OPEN_FAILED_RESOURCE_SHORTAGE
    assert server.admission.snapshot().refused["session-limit"] == 1
    wait_for(lambda: server.admission.snapshot().sessions == 0, "the session's slot given back")


def test_a_connection_closes_when_its_last_session_ends(servers):
    server = start(servers)
    transport = paramiko.Transport((HOST, server.port))
    try:
        transport.connect(username="admin", password=USERS["admin"])
        channel = transport.open_session()
        channel.invoke_subsystem("netconf")
        channel.sendall(b'<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>'
                        b"<capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>")
        wait_for(lambda: server.session_list(), "the session opened")
        channel.close()
        wait_for(lambda: not transport.is_active(), "the server closing the connection", timeout=GENEROUS)
    finally:
        transport.close()
    assert server.admission.snapshot().sessions == 0 and server.admission.snapshot().pending == 0


def _failed_login(server, password: str = "wrong") -> float:
    """Seconds from a wrong password sent to its refusal."""
    transport = paramiko.Transport((HOST, server.port))
    try:
        transport.start_client(timeout=10)
        started = time.monotonic()
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_password("mallory", password)
        return time.monotonic() - started
    finally:
        transport.close()


def test_each_failed_login_waits_longer_from_the_same_source_up_to_the_maximum(servers):
    server = start(servers, failed_login_delay=0.2, failed_login_delay_max=0.8)
    waits = [_failed_login(server) for _ in range(5)]
    for waited, delay in zip(waits, (0.2, 0.4, 0.8, 0.8, 0.8)):
        assert delay <= waited < delay + GENEROUS
    assert server.admission.snapshot().login_failures == 5


def test_a_failed_login_logs_one_line_naming_the_user_and_the_source_address(servers, caplog):
    server = start(servers, failed_login_delay=0.0)
    caplog.set_level(logging.INFO, "mgmt.netconf.ssh")
    _failed_login(server, password="hunter2")
    lines = [r.getMessage() for r in caplog.records if "login failed" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith("NETCONF login failed: user 'mallory' from [127.0.0.1]:")
    assert "(password; failure 1 from this address" in lines[0]
    assert "hunter2" not in caplog.text  # the password tried is never logged


def test_a_successful_login_logs_one_line_naming_the_user_and_the_source_address(servers, caplog):
    server = start(servers)
    caplog.set_level(logging.INFO, "mgmt.netconf.ssh")
    with login(server):
        pass
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("NETCONF login:")]
    assert len(lines) == 1 and lines[0].startswith("NETCONF login: user 'admin' from [127.0.0.1]:")
    assert lines[0].endswith("(password)") and USERS["admin"] not in lines[0].split("user")[0]


def test_a_tcp_probe_that_sends_no_ssh_banner_logs_one_line_and_no_traceback(servers, caplog):
    server = start(servers)
    caplog.set_level(logging.DEBUG)

    def ours() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "mgmt.netconf.ssh" and "no SSH session" in r.getMessage()]

    for count, probe in enumerate((b"", b"GET / HTTP/1.0\r\n\r\n"), start=1):
        with idle(server) as sock:
            sock.sendall(probe)
        wait_for(lambda: len(ours()) == count, "the probe's line")
    wait_for(lambda: server.admission.snapshot().pending == 0, "the probes' connections ended")
    assert len(ours()) == 2
    assert all("the client sent no SSH banner" in r.getMessage() for r in ours())
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()
                or r.levelno >= logging.ERROR]
