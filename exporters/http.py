"""The metrics and health endpoint, served from its own threads.

`/metrics` (gzip when the scraper asks), `/healthz` (the process is alive), `/readyz`
(200 when the source is ready, else 503 with the reasons). Every request runs in its own
daemon thread with a socket timeout, so a slow or stuck scraper never reaches the
signalling loop.
"""
from __future__ import annotations

import gzip
import ipaddress
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder, gzip_accepted

from exporters.collector import Collector
from exporters.source import MetricsSource

DEFAULT_PORT = 9430
DEFAULT_ADDRESS = "::"
REQUEST_TIMEOUT_SECONDS = 10.0
SHUTDOWN_POLL_SECONDS = 0.05  # how soon stop() is noticed by the serving thread

log = logging.getLogger(__name__)


def build_registry(source: MetricsSource, *, process_metrics: bool = True) -> CollectorRegistry:
    """A registry holding the dmm collector and, optionally, the standard `process_*` metrics."""
    registry = CollectorRegistry()
    registry.register(Collector(source))
    if process_metrics:
        ProcessCollector(registry=registry)
    return registry


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A scraper that hangs up or times out is its own problem, not a server fault.
        log.debug("metrics request from %s failed", client_address, exc_info=True)

    def __init__(self, address: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        super().__init__((address, port), handler, bind_and_activate=False)
        try:
            if self.address_family == socket.AF_INET6:
                # "::" also accepts IPv4 (mapped addresses), as operators expect of a wildcard.
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            self.server_bind()
            self.server_activate()
        except OSError:
            self.server_close()
            raise


class MetricsServer:
    """Serves `source` over HTTP. Port 0 picks a free port; read it from `port` after `start()`."""

    def __init__(
        self,
        source: MetricsSource,
        address: str = DEFAULT_ADDRESS,
        port: int = DEFAULT_PORT,
        *,
        registry: CollectorRegistry | None = None,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"metrics listen address must be an IPv4 or IPv6 address, got {address!r}") from None
        if not 0 <= port <= 65535:
            raise ValueError(f"metrics port must be 0..65535, got {port}")
        self._source = source
        self._address = address
        self._requested_port = port
        self._registry = registry if registry is not None else build_registry(source)
        self._timeout = request_timeout
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("metrics server is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self._address}]" if ":" in self._address else self._address
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("metrics server already running")
        self._server = _Server(self._address, self._requested_port, self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="metrics-http", daemon=True
        )
        self._thread.start()
        log.info("metrics endpoint listening on %s", self.url)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        registry, source, timeout = self._registry, self._source, self._timeout

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                self.timeout = timeout  # StreamRequestHandler applies it to the socket
                super().setup()

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._metrics()
                elif path == "/healthz":
                    self._reply(200, b"ok\n")
                elif path == "/readyz":
                    self._ready()
                else:
                    self._reply(404, b"not found: try /metrics, /healthz or /readyz\n")

            def _metrics(self) -> None:
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                body = encoder(registry)
                headers = {}
                if gzip_accepted(self.headers.get("Accept-Encoding", "")):
                    body = gzip.compress(body)
                    headers["Content-Encoding"] = "gzip"
                self._reply(200, body, content_type, headers)

            def _ready(self) -> None:
                try:
                    readiness = source.ready()
                except Exception as error:  # an unreadable source is simply not ready
                    self._reply(503, f"not ready: readiness check failed: {error}\n".encode())
                    return
                if readiness.ready:
                    self._reply(200, b"ready\n")
                else:
                    reasons = "".join(f"{reason}\n" for reason in readiness.reasons) or "not ready\n"
                    self._reply(503, reasons.encode())

            def _reply(
                self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("metrics http: " + format, *args)

        return Handler
