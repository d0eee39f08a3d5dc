"""Benchmark: NETCONF reads of the binding cache on a large LMA.

A `dmm-nf` service (Runtime + NETCONF server via mgmt.netconf_service, lma.xml on free
ports) runs in its own process with its binding cache filled directly. A client in this
process speaks NETCONF 1.1 framing over paramiko and times each request from the moment it
is sent to the last byte of the reply, without parsing the reply, so the figure is the
server's (plus SSH), not a client library's XML parsing.

- `<get>` filtered to one mobile node among 1,000,000 bindings (goal < 10 ms), beside an
  empty `<get>` (a filter that selects nothing) in the same run;
- an unfiltered `<get>` of a node with 100,000 bindings (goal < 3 s), beside the empty get;
- an unfiltered `<get>` of all 1,000,000 bindings, with the server's peak memory growth;
- 50 sessions each polling the one-MN get: replies per second and p99 latency.

Run: `.venv/bin/python -m tests.bench.bench_netconf [--quick]`
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import sys
import threading
import time
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path
from tempfile import TemporaryDirectory

import paramiko
from lxml import etree

from tests.bench.harness import baseline, median, result

ROOT = Path(__file__).resolve().parents[2]
NS = "urn:dmm-nf:yang:dmm-nf"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
HNP_BASE = int(IPv6Network("2001:db8::/32").network_address)
_FORK = multiprocessing.get_context("fork")

EMPTY_GET = f'<get><filter type="subtree"><dmm-nf xmlns="{NS}"><binding-cache><binding>' \
            "<mn-identifier>nobody@example.net</mn-identifier></binding></binding-cache></dmm-nf></filter></get>"
FULL_GET = "<get/>"


def one_mn_get(i: int) -> str:
    return (f'<get><filter type="subtree"><dmm-nf xmlns="{NS}"><binding-cache><binding>'
            f"<mn-identifier>mn{i}@example.net</mn-identifier></binding></binding-cache></dmm-nf></filter></get>")


# ------------------------------------------------------------------ server process
def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET6, kind) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def _fill(lma, count: int) -> None:
    from nf.core.binding_cache import BindingCacheEntry

    now_mono, now_wall = time.monotonic(), time.time()
    mag = IPv6Address("2001:db8:ffff::1")
    for i in range(count):
        lma.cache.add(BindingCacheEntry(
            mn_identifier=f"mn{i}@example.net", link_layer_id=i.to_bytes(6, "big"),
            home_network_prefixes=(IPv6Network((HNP_BASE + (i << 64), 64)),), proxy_coa=mag,
            access_technology_type=4, handoff_indicator=1, sequence=i & 0xFFFF, lifetime=3600,
            created_monotonic=now_mono, created_wall=now_wall, expires_at=now_mono + 3600,
            tunnel_id="mag-0"))


def _server_main(bindings: int, conn, stop_event) -> None:
    asyncio.run(_serve(bindings, conn, stop_event))


async def _serve(bindings: int, conn, stop_event) -> None:
    from lxml import etree as et

    from mgmt.service import Service, ServiceOptions
    from nf.config import load_config

    with TemporaryDirectory() as tmp:
        config = et.parse(str(ROOT / "yang" / "examples" / "lma.xml"))
        config.find(f"{{{NS}}}transport/{{{NS}}}udp-port").text = str(_free_port(socket.SOCK_DGRAM))
        # the 50 polling sessions all come from ::1: above the default 16 sessions per source
        netconf = config.find(f"{{{NS}}}management/{{{NS}}}netconf")
        limits = et.SubElement(netconf, f"{{{NS}}}limits")
        et.SubElement(limits, f"{{{NS}}}max-sessions-per-source").text = "64"
        path = Path(tmp) / "lma.xml"
        config.write(str(path))
        options = ServiceOptions(config_path=path, netconf_port=_free_port(), metrics_port=_free_port(),
                                 state_dir=Path(tmp) / "state")
        service = Service(load_config(path), options, lambda name: Path(tmp) / name)
        await service.start()
        _fill(service.runtime.lma, bindings)
        conn.send(service.netconf.port)
        while not stop_event.is_set():
            await asyncio.sleep(0.1)
        service.runtime.lma.cache.clear()  # the entries were added behind the role's back
        await service.stop()


class ServerProcess:
    def __init__(self, bindings: int) -> None:
        parent, child = _FORK.Pipe()
        self._stop = _FORK.Event()
        self._process = _FORK.Process(target=_server_main, args=(bindings, child, self._stop), daemon=True)
        self._process.start()
        if not parent.poll(300):
            raise RuntimeError("the NETCONF server process did not start")
        self.port = parent.recv()

    def memory_mb(self, field: str) -> float:
        """VmRSS (now) or VmHWM (peak) of the server process, in MB."""
        for line in Path(f"/proc/{self._process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise KeyError(field)

    def reset_peak_memory(self) -> None:
        Path(f"/proc/{self._process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS

    def stop(self) -> None:
        self._stop.set()
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()


# ------------------------------------------------------------------ client
class RawSession:
    """NETCONF 1.1 over paramiko; `request` returns (seconds, reply bytes)."""

    def __init__(self, port: int) -> None:
        self.transport = paramiko.Transport(("::1", port))
        self.transport.connect(username="admin", password="admin")
        self.chan = self.transport.open_session()
        self.chan.settimeout(120)
        self.chan.invoke_subsystem("netconf")
        self.buf = b""
        while b"]]>]]>" not in self.buf:
            self.buf += self.chan.recv(65536)
        self.buf = self.buf.partition(b"]]>]]>")[2]
        hello = (f'<hello xmlns="{NC_NS}"><capabilities><capability>urn:ietf:params:netconf:base:1.1'
                 "</capability></capabilities></hello>]]>]]>")
        self.chan.sendall(hello.encode())
        self.message_id = 0

    def request(self, body: str) -> tuple[float, bytes]:
        self.message_id += 1
        msg = f'<rpc xmlns="{NC_NS}" message-id="{self.message_id}">{body}</rpc>'.encode()
        started = time.perf_counter()
        self.chan.sendall(b"\n#%d\n" % len(msg) + msg + b"\n##\n")
        reply = self._read_chunked()
        return time.perf_counter() - started, reply

    def _read_chunked(self) -> bytes:
        # bytearrays: appending each SSH read to an immutable 70 MB reply would copy it
        # thousands of times and time the client, not the server
        buf, reply = bytearray(self.buf), bytearray()
        while True:
            while len(buf) < 4 or b"\n" not in buf[1:16]:
                buf += self._recv()
            end = buf.index(b"\n", 1)
            header = bytes(buf[1:end])
            if header == b"##":
                self.buf = bytes(buf[end + 1:])
                return bytes(reply)
            size = int(header[1:])
            while len(buf) - (end + 1) < size:
                buf += self._recv()
            reply += buf[end + 1:end + 1 + size]
            del buf[:end + 1 + size]

    def _recv(self) -> bytes:
        data = self.chan.recv(1 << 20)
        if not data:
            raise EOFError("the server closed the session")
        return data

    def close(self) -> None:
        self.transport.close()


def _bindings_in(reply: bytes) -> int:
    return len(etree.fromstring(reply).findall(f".//{{{NS}}}binding"))


def _alternate(session: RawSession, a: str, b: str, rounds: int) -> tuple[list[float], list[float], bytes]:
    """A, B, A, B...: the same machine load falls on both; returns the times and B's last reply."""
    times_a, times_b, reply_b = [], [], b""
    for _ in range(rounds):
        times_a.append(session.request(a)[0])
        elapsed, reply_b = session.request(b)
        times_b.append(elapsed)
    return times_a, times_b, reply_b


def _concurrent(port: int, sessions: int, seconds: float, population: int) -> tuple[float, float, int]:
    """Every session polls one-MN gets for `seconds`: (replies per second, p99 seconds, errors)."""
    clients = [RawSession(port) for _ in range(sessions)]
    latencies: list[list[float]] = [[] for _ in clients]
    errors = [0]
    start = threading.Barrier(sessions + 1)
    deadline = [0.0]

    def poll(index: int) -> None:
        start.wait()
        i = index
        while time.perf_counter() < deadline[0]:
            elapsed, reply = clients[index].request(one_mn_get(i % population))
            if b"<rpc-error" in reply:
                errors[0] += 1
            latencies[index].append(elapsed)
            i += sessions

    threads = [threading.Thread(target=poll, args=(n,)) for n in range(sessions)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    took = time.perf_counter() - began
    for c in clients:
        c.close()
    every = sorted(x for per in latencies for x in per)
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))]
    return len(every) / took, p99, errors[0]


def _huge_get(server: ServerProcess, bindings: int) -> dict:
    """One unfiltered <get> of every binding, with the server's peak memory growth: the
    reply is streamed, so it should not need memory of the reply's size."""
    session = RawSession(server.port)
    try:
        rss = server.memory_mb("VmRSS")
        server.reset_peak_memory()
        elapsed, reply = session.request(FULL_GET)
        growth = server.memory_mb("VmHWM") - rss
    finally:
        session.close()
    assert reply.count(b"<binding>") == bindings
    return result(f"unfiltered <get>, {bindings:,} bindings", elapsed, "s",
                  notes=f"one request; reply {len(reply) / 1e6:.0f} MB; the server's peak memory grew by "
                        f"{growth:.0f} MB over its {rss:.0f} MB")


def run(quick: bool = False) -> list[dict]:
    big = 100_000 if quick else 1_000_000
    full = 10_000 if quick else 100_000
    rounds = 20 if quick else 100
    records = []

    server = ServerProcess(big)
    try:
        session = RawSession(server.port)
        session.request(EMPTY_GET)  # warm-up: schema lookups, enum tables
        empty, one, reply = _alternate(session, EMPTY_GET, one_mn_get(big // 2), rounds)
        assert _bindings_in(reply) == 1, reply[:500]
        session.close()
        empty_ms, one_ms = median(empty) * 1e3, median(one) * 1e3
        records.append(result(
            f"<get> filtered to one MN, {big:,} bindings", one_ms, "ms",
            baseline=baseline("empty <get> (filter selecting nothing)", empty_ms, "ms"),
            goal="< 10 ms", met=one_ms < 10,
            notes=f"median of {rounds}, alternating with the empty get; send to last reply byte over SSH"))
        rate, p99, errors = _concurrent(server.port, 50, 3 if quick else 10, big)
        records.append(result(
            "50 sessions polling a one-MN <get>: replies", rate, "replies/s",
            notes=f"{big:,} bindings; p99 {p99 * 1e3:.1f} ms; {errors} rpc-errors"))
        records.append(result("50 sessions polling a one-MN <get>: p99 latency", p99 * 1e3, "ms",
                              notes=f"{big:,} bindings"))
        records.append(_huge_get(server, big))
    finally:
        server.stop()

    server = ServerProcess(full)
    try:
        session = RawSession(server.port)
        session.request(EMPTY_GET)
        repeats = 3 if quick else 5
        empty, whole, reply = _alternate(session, EMPTY_GET, FULL_GET, repeats)
        assert _bindings_in(reply) == full
        session.close()
        whole_s = median(whole)
        records.append(result(
            f"unfiltered <get>, {full:,} bindings", whole_s, "s",
            baseline=baseline("empty <get> (filter selecting nothing)", median(empty), "s"),
            goal="< 3 s", met=whole_s < 3,
            notes=f"median of {repeats}; reply {len(reply) / 1e6:.0f} MB"))
    finally:
        server.stop()
    return records


if __name__ == "__main__":
    json.dump(run(quick="--quick" in sys.argv), sys.stdout, indent=2)
    print()
