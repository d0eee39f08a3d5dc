"""Building blocks for benchmarks: result records, a UDP echo server, a pipelining load client.

The echo server and the load client each run in their own process (pinned to different
cores when there are two or more), so the figure measures the server, not a client sharing
its core. Other benchmarks reuse the client against their own server, e.g. the LMA's
registration rate against ``start_echo_server()`` measured in the same run.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import statistics
import time
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Callable, Literal

from nf.transport import UdpTransport

EchoKind = Literal["transport", "asyncio"]
_FORK = multiprocessing.get_context("fork")


def result(name: str, value: float, unit: str, *, baseline: dict | None = None,
           goal: str | None = None, met: bool | None = None, notes: str | None = None) -> dict:
    """One benchmark figure in the form tests.bench expects from every `run()`."""
    return {"name": name, "value": float(value), "unit": unit, "baseline": baseline,
            "goal": goal, "met": met, "notes": notes}


def baseline(name: str, value: float, unit: str) -> dict:
    return {"name": name, "value": float(value), "unit": unit}


def median(values: list[float]) -> float:
    return statistics.median(values)


def _pin_to_cpu(index: int) -> None:
    """Pins this process to CPU `index` (counted from the end when negative), if there is one."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[index]})


# --- echo server ------------------------------------------------------------------------
class EchoServer:
    """A UDP echo server in its own process; use as a context manager or call stop()."""

    def __init__(self, process: multiprocessing.process.BaseProcess, host: str, port: int,
                 stop_event) -> None:
        self._process = process
        self._stop = stop_event
        self.host = host
        self.port = port

    @property
    def target(self) -> tuple[str, int]:
        return self.host, self.port

    def stop(self) -> None:
        self._stop.set()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_echo_server(bind: str = "::1", kind: EchoKind = "transport") -> EchoServer:
    """Starts an echo server on a kernel-chosen port of `bind` and waits until it listens.

    kind "transport" echoes through nf.transport.UdpTransport (the socket stack the LMA
    uses: the bare-echo baseline for its registration rate); kind "asyncio" through
    loop.create_datagram_endpoint, the stack asyncio offers out of the box.
    """
    parent, child = _FORK.Pipe()
    stop_event = _FORK.Event()
    process = _FORK.Process(target=_echo_main, args=(bind, kind, child, stop_event),
                            daemon=True)
    process.start()
    if not parent.poll(10):
        process.kill()
        raise RuntimeError("echo server did not start within 10 s")
    port = parent.recv()
    if isinstance(port, str):
        process.join()
        raise RuntimeError(f"echo server failed: {port}")
    host = "::1" if IPv6Address(bind).is_unspecified else bind
    return EchoServer(process, host, port, stop_event)


def _echo_main(bind: str, kind: EchoKind, conn, stop_event) -> None:
    _pin_to_cpu(0)
    try:
        asyncio.run(_serve_echo(bind, kind, conn, stop_event))
    except Exception as exc:  # reported to the parent, which raises it
        conn.send(f"{type(exc).__name__}: {exc}")


async def _serve_echo(bind: str, kind: EchoKind, conn, stop_event) -> None:
    loop = asyncio.get_running_loop()
    if kind == "transport":
        def echo(data: bytes, src: IPv6Address, port: int, dst: IPv6Address) -> None:
            transport.send(data, src, port)

        transport = UdpTransport(bind, echo, port=0)
        await transport.start()
        conn.send(transport.local_port)
        close = transport.close
    else:
        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, t) -> None:
                self.t = t

            def datagram_received(self, data: bytes, addr) -> None:
                self.t.sendto(data, addr)

        endpoint, _ = await loop.create_datagram_endpoint(Echo, local_addr=(bind, 0))
        conn.send(endpoint.get_extra_info("sockname")[1])
        close = endpoint.close
    await loop.run_in_executor(None, stop_event.wait)
    close()


# --- load client ------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadResult:
    sent: int
    answered: int
    lost: int
    seconds: float

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return self.answered / self.seconds if self.seconds > 0 else 0.0


def udp_request_rate(target: tuple[str, int], make_request: Callable[[int], bytes],
                     count: int, window: int = 32, max_seconds: float = 20.0,
                     answer_timeout: float = 0.2) -> LoadResult:
    """Sends `count` requests keeping `window` outstanding; counts answers per second.

    Runs in a separate process. Every answer releases one slot, whatever it contains. When
    no answer comes for `answer_timeout` the outstanding requests are counted lost and the
    window refilled; the run stops after `count` requests or `max_seconds`. The requests are
    built before the clock starts, so their construction is not measured.
    """
    parent, child = _FORK.Pipe()
    process = _FORK.Process(
        target=_client_main,
        args=(target, make_request, count, window, max_seconds, answer_timeout, child),
        daemon=True)
    process.start()
    if not parent.poll(max_seconds + 60):
        process.kill()
        raise RuntimeError("load client did not finish")
    outcome = parent.recv()
    process.join()
    if isinstance(outcome, str):
        raise RuntimeError(f"load client failed: {outcome}")
    return outcome


def _client_main(target, make_request, count, window, max_seconds, answer_timeout, conn) -> None:
    _pin_to_cpu(-1)
    try:
        conn.send(_run_client(target, make_request, count, window, max_seconds, answer_timeout))
    except Exception as exc:  # reported to the parent, which raises it
        conn.send(f"{type(exc).__name__}: {exc}")


def _run_client(target: tuple[str, int], make_request: Callable[[int], bytes], count: int,
                window: int, max_seconds: float, answer_timeout: float) -> LoadResult:
    requests = [make_request(i) for i in range(count)]
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.connect(target)  # answers from elsewhere are filtered; unreachable shows as an error
    sock.settimeout(answer_timeout)
    send, recv = sock.send, sock.recv
    sent = answered = lost = outstanding = 0
    start = time.perf_counter()
    deadline = start + max_seconds
    while True:
        while outstanding < window and sent < count:
            send(requests[sent])
            sent += 1
            outstanding += 1
        if outstanding == 0:
            break
        try:
            recv(65535)
        except TimeoutError:
            lost += outstanding
            outstanding = 0
        else:
            answered += 1
            outstanding -= 1
        if answered & 0xFF == 0 and time.perf_counter() > deadline:
            lost += outstanding
            break
    seconds = time.perf_counter() - start
    sock.close()
    return LoadResult(sent=sent, answered=answered, lost=lost, seconds=seconds)
