"""The HTTP endpoint: /metrics (plain and gzip), /healthz, /readyz, 404, IPv4/IPv6, slow clients."""
import gzip
import socket
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters.http import DEFAULT_PORT, MetricsServer
from exporters.source import FakeSource, Readiness


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def source():
    return FakeSource.populated()


@pytest.fixture
def server(source):
    with MetricsServer(source, "127.0.0.1", 0, request_timeout=1.0) as running:
        yield running


def test_default_port_is_9430():
    assert DEFAULT_PORT == 9430


def test_port_zero_binds_a_free_port_and_exposes_it(server):
    assert 0 < server.port < 65536
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_metrics_serves_the_text_format(server):
    status, headers, body = get(server.url + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b'dmm_bindings{state="active"} 40.0' in body
    assert b"process_start_time_seconds" in body


def test_metrics_is_gzipped_when_asked(server):
    status, headers, body = get(server.url + "/metrics", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert b"dmm_tunnels 3.0" in gzip.decompress(body)


def test_openmetrics_is_served_when_asked(server):
    status, headers, body = get(server.url + "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_healthz_answers_while_the_process_lives(server):
    assert get(server.url + "/healthz")[0] == 200


def test_readyz_follows_the_source(server, source):
    assert get(server.url + "/readyz")[0] == 200
    source.readiness = Readiness(False, ("no peer path is up", "prefix pool pool-a is empty"))
    status, _, body = get(server.url + "/readyz")
    assert status == 503
    assert body.decode().splitlines() == ["no peer path is up", "prefix pool pool-a is empty"]


def test_readyz_is_503_when_the_readiness_check_fails(server, source):
    def broken():
        raise RuntimeError("runtime loop stalled")

    source.ready = broken
    status, _, body = get(server.url + "/readyz")
    assert status == 503
    assert b"runtime loop stalled" in body


def test_unknown_paths_are_404(server):
    assert get(server.url + "/")[0] == 404
    assert get(server.url + "/metrics/extra")[0] == 404


def test_query_strings_are_ignored(server):
    assert get(server.url + "/metrics?name[]=dmm_tunnels")[0] == 200


def test_listens_on_ipv6_loopback(source):
    with MetricsServer(source, "::1", 0) as server:
        assert server.url.startswith("http://[::1]:")
        assert get(server.url + "/healthz")[0] == 200


def test_ipv6_wildcard_also_accepts_ipv4(source):
    with MetricsServer(source, "::", 0) as server:
        assert get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200


def test_a_stalled_client_neither_blocks_scrapes_nor_stays_open(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as stalled:
        stalled.sendall(b"GET /metr")  # and never finishes the request
        assert get(server.url + "/metrics")[0] == 200
        assert stalled.recv(1) == b""  # the server's request timeout closed it


def test_stop_releases_the_port(source):
    server = MetricsServer(source, "127.0.0.1", 0)
    server.start()
    port = server.port
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(RuntimeError):
        server.port


@pytest.mark.parametrize("address, port", [("localhost", 0), ("not an address", 0), ("127.0.0.1", 70000)])
def test_bad_listen_settings_raise_a_clear_error(source, address, port):
    with pytest.raises(ValueError, match="metrics"):
        MetricsServer(source, address, port)


def test_a_port_in_use_raises_oserror(server, source):
    with pytest.raises(OSError):
        MetricsServer(source, "127.0.0.1", server.port).start()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=st.binary(min_size=1, max_size=300))
def test_garbage_requests_never_stop_the_server(server, request):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(request + b"\r\n\r\n")
        client.shutdown(socket.SHUT_WR)
        while client.recv(4096):
            pass
    assert get(server.url + "/healthz")[0] == 200
