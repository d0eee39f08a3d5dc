"""The SSH side of the NETCONF server (RFC 6242 §3): listening, admission and login.

The listening thread only accepts: it takes a pending slot for the connection
(``admission.Admission``; none free: the TCP connection is closed at once) and hands it to a
thread of its own, which runs the SSH handshake, the authentication and then the connection's
channels. A client that sends nothing, or sends slowly, holds its own thread and slot and
delays nobody else's login. The listening thread also closes every connection that has not
opened a NETCONF session ``login_timeout`` after its accept (checked at least once a second).

Each connection authenticates against the shared ``Credentials`` through its own
``paramiko.ServerInterface``, which knows the source address: a failed password login is
logged in one line naming the user and the address, counted, and answered only after the
delay the address has earned. A publickey offer that does not match is not a failure: clients
try their keys in turn, and a private key cannot be guessed. A session channel takes a session
slot or is answered SSH_OPEN_RESOURCE_SHORTAGE (RFC 4254 §5.1). When a connection's last
NETCONF session ends, the connection is closed.

paramiko's own log (a traceback for a TCP probe that sends no banner) is silenced; each
connection's outcome is one line of this module's log instead.
"""
from __future__ import annotations

import logging
import select
import socket
import threading
import time
from typing import Callable, Optional

import paramiko

from mgmt.netconf.admission import Admission, source_of
from mgmt.netconf.credentials import Credentials
from nf.transport.base import ThrottledLog

log = logging.getLogger(__name__)
WIRE_LOG = f"{__name__}.wire"  # paramiko's transports log here, silenced
logging.getLogger(WIRE_LOG).setLevel(logging.CRITICAL + 1)

_EXPIRY_PERIOD = 1.0  # seconds: the longest the listening thread waits between deadline checks
_ACCEPT_BACKOFF = 0.1  # seconds of pause after accept() fails (out of file descriptors)

SessionFactory = Callable[[paramiko.Channel, "Connection"], object]


def printable(text: str, limit: int = 64) -> str:
    """A client-chosen string fit for a log line: quoted, control characters escaped, cut."""
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[:limit])
    return repr(shown + ("..." if len(text) > limit else ""))


class SshListener:
    """Accepts NETCONF-over-SSH connections on one address and port."""

    def __init__(self, address: str, port: int, host_key: paramiko.PKey, credentials: Credentials,
                 admission: Admission, open_session: SessionFactory) -> None:
        """Binds at once (OSError if the port is taken); ``start()`` begins accepting."""
        self.host_key = host_key
        self.credentials = credentials
        self.admission = admission
        self.open_session = open_session
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((address, port))
            self._socket.listen(128)
        except OSError:
            self._socket.close()
            raise
        self.port = self._socket.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._connections: set[Connection] = set()
        self._session_id = 0
        self._stopping = threading.Event()
        self._refused_log = ThrottledLog(log)
        self._thread = threading.Thread(target=self._serve, name=f"netconf-accept-{self.port}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._stopping.set()
        self._wake_w.send(b"!")
        if self._thread.is_alive():
            self._thread.join()
        else:
            self._socket.close()
        for connection in self.connections():
            connection.close()
        self._wake_r.close()
        self._wake_w.close()

    def connections(self) -> list["Connection"]:
        with self._lock:
            return list(self._connections)

    def _allocate_session_id(self) -> int:
        """The next session-id (RFC 6241 §8.1: unique on this server, never 0)."""
        with self._lock:
            self._session_id += 1
            return self._session_id

    def forget(self, connection: "Connection") -> None:
        with self._lock:
            self._connections.discard(connection)

    # ------------------------------------------------------------------ the listening thread
    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                ready, _, _ = select.select([self._socket, self._wake_r], [], [], self._next_check())
                if self._wake_r in ready:
                    break
                if self._socket in ready:
                    self._accept()
                self._expire(time.monotonic())
        finally:
            self._socket.close()

    def _next_check(self) -> float:
        deadlines = [c.deadline for c in self.connections() if c.deadline is not None]
        if not deadlines:
            return _EXPIRY_PERIOD
        return max(0.0, min(_EXPIRY_PERIOD, min(deadlines) - time.monotonic()))

    def _accept(self) -> None:
        try:
            client, address = self._socket.accept()
        except OSError as e:  # out of file descriptors: the backlog waits, the server goes on
            self._refused_log.warning("NETCONF: cannot accept a connection: %s", (e.strerror or str(e)).lower())
            self._stopping.wait(_ACCEPT_BACKOFF)
            return
        source, port = source_of(address[0]), address[1]
        refused = self.admission.admit_connection(source)
        if refused is not None:
            client.close()
            self._refused_log.warning("NETCONF connection from [%s]:%d refused: %s", source, port, refused)
            return
        connection = Connection(self, client, source, port,
                                time.monotonic() + self.admission.limits.login_timeout)
        with self._lock:
            self._connections.add(connection)
        connection.start()

    def _expire(self, now: float) -> None:
        for connection in self.connections():
            if connection.deadline is not None and now >= connection.deadline:
                connection.expire()

    def session_refused(self, connection: "Connection", reason: str) -> None:
        self._refused_log.warning("NETCONF session from %s (user %s) refused: %s", connection,
                                  printable(connection.username or ""), reason)


class Connection:
    """One SSH connection: its handshake, login and channels run in its own thread."""

    def __init__(self, listener: SshListener, sock: socket.socket, source: str, port: int, deadline: float) -> None:
        self.listener = listener
        self.source = source
        self.port = port
        self.deadline: Optional[float] = deadline  # None once a NETCONF session is open
        self.username: Optional[str] = None  # once authenticated
        self.method: Optional[str] = None  # how: password or publickey
        self.closed = threading.Event()
        self._sock = sock
        self._transport: Optional[paramiko.Transport] = None
        self._lock = threading.Lock()
        self._pending = True  # holds a pending slot
        self._established = False
        self._sessions = 0  # session slots held
        self._thread = threading.Thread(target=self._run, name=f"netconf-ssh-[{source}]:{port}", daemon=True)

    def __str__(self) -> str:
        return f"[{self.source}]:{self.port}"

    def start(self) -> None:
        self._thread.start()

    # ------------------------------------------------------------------ the connection's thread
    def _run(self) -> None:
        try:
            transport = paramiko.Transport(self._sock)
            transport.set_log_channel(WIRE_LOG)
            # the login deadline ends a slow handshake first, without paramiko's own timeouts
            transport.banner_timeout = transport.handshake_timeout = self.listener.admission.limits.login_timeout + 5
            transport.add_server_key(self.listener.host_key)
            with self._lock:
                if self.closed.is_set():
                    return
                self._transport = transport
            try:
                transport.start_server(server=ConnectionAuth(self))
            except (paramiko.SSHException, EOFError, OSError) as exc:
                if not self.closed.is_set():
                    log.info("NETCONF connection from %s: no SSH session: %s", self, _handshake_failure(exc, transport))
                return
            while not self.closed.is_set():
                channel = transport.accept(timeout=1)
                if channel is None:
                    if not transport.is_active():
                        break
                    continue
                self.listener.open_session(channel, self)
        except Exception as exc:  # a bug must not end the server, nor leave the connection open
            log.error("NETCONF connection from %s failed: %s: %s", self, type(exc).__name__, exc)
        finally:
            self.close()

    # ------------------------------------------------------------------ slots
    def admit_session(self) -> bool:
        """A session channel is being opened: take a session slot for it."""
        refused = self.listener.admission.admit_session(self.source)
        if refused is not None:
            self.listener.session_refused(self, refused)
            return False
        with self._lock:
            if not self.closed.is_set():
                self._sessions += 1
                return True
        self.listener.admission.release_session(self.source)
        return False

    def established(self) -> None:
        """A NETCONF session of this connection exchanged hellos: the login is complete."""
        with self._lock:
            if self._established:
                return
            self._established = True
            self.deadline = None
            release = self._pending
            self._pending = False
        if release:
            self.listener.admission.release_pending(self.source)
        log.info("NETCONF login: user %s from %s (%s)", printable(self.username or ""), self, self.method)

    def session_ended(self) -> None:
        """A NETCONF session of this connection ended; with its last one the connection goes."""
        with self._lock:
            if self._sessions == 0:
                return  # released when the connection closed
            self._sessions -= 1
            last = self._sessions == 0 and self._established
        self.listener.admission.release_session(self.source)
        if last:
            self.close()

    def expire(self) -> None:
        """The login deadline passed without a NETCONF session."""
        if self.closed.is_set() or self.deadline is None:
            return
        self.listener.admission.login_timed_out()
        who = f"user {printable(self.username)}" if self.username else "not authenticated"
        log.warning("NETCONF connection from %s closed: no NETCONF session within %g s (%s)", self,
                    self.listener.admission.limits.login_timeout, who)
        self.close()

    def close(self) -> None:
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
            pending, self._pending = self._pending, False
            sessions, self._sessions = self._sessions, 0
            transport = self._transport
        admission = self.listener.admission
        if pending:
            admission.release_pending(self.source)
        for _ in range(sessions):
            admission.release_session(self.source)
        if transport is not None:
            transport.close()
        try:
            self._sock.close()
        except OSError:
            pass
        self.listener.forget(self)


def _handshake_failure(exc: BaseException, transport: paramiko.Transport) -> str:
    if not transport.remote_version:
        return "the client sent no SSH banner (a TCP probe?)"
    return str(exc) or type(exc).__name__


class ConnectionAuth(paramiko.ServerInterface):
    """Authentication and channel policy for one connection (module doc)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_auth_none(self, username: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        if self.connection.listener.credentials.password_ok(username, password):
            return self._succeeded(username, "password")
        connection = self.connection
        count, delay = connection.listener.admission.login_failed(connection.source)
        log.warning("NETCONF login failed: user %s from %s (password; failure %d from this address, "
                    "answered after %.1f s)", printable(username), connection, count, delay)
        connection.closed.wait(delay)  # the answer waits; a connection closed meanwhile ends it
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if self.connection.listener.credentials.key_ok(username, key):
            return self._succeeded(username, "publickey")
        log.debug("NETCONF connection from %s: key %s not accepted for user %s", self.connection,
                  key.get_name(), printable(username))
        return paramiko.AUTH_FAILED

    def _succeeded(self, username: str, method: str) -> int:
        # logged once the NETCONF session is open (Connection.established): a publickey
        # query succeeds here before the client has proved it holds the key
        self.connection.username, self.connection.method = username, method
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind != "session":
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        if not self.connection.admit_session():
            return paramiko.OPEN_FAILED_RESOURCE_SHORTAGE
        return paramiko.OPEN_SUCCEEDED

    def check_channel_subsystem_request(self, channel, name: str) -> bool:
        return name == "netconf"
