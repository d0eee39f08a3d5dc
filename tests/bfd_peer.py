"""A BFD engine in a process of its own, for tests and benchmarks: a peer that can be
stopped with SIGSTOP, run in a network namespace, and measured for CPU.

    python -m tests.bfd_peer --port 4784 --session KEY,LOCAL,REMOTE[,REMOTE_PORT] ...
        [--tx 0.3] [--rx 0.3] [--multiplier 3] [--sessions-file FILE]

It prints one JSON object per line on standard output: {"ready": PORT} once listening,
{"change": KEY, "old": .., "new": .., "diagnostic": ..} on each state change, and answers
lines on standard input: "status" (counts per state, flaps, CPU seconds so far),
"sessions" (every session's snapshot), "stop" (AdminDown to every peer, then exit).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import resource
import signal
import sys
from collections import Counter
from ipaddress import IPv6Address
from pathlib import Path

from nf.liveness.bfd import BfdEngine, BfdSessionSpec, BfdState


def _parse_session(text: str, args) -> BfdSessionSpec:
    parts = text.split(",")
    key, local, remote = parts[:3]
    port = int(parts[3]) if len(parts) > 3 else 4784
    return BfdSessionSpec(key, local, remote, desired_min_tx=args.tx, required_min_rx=args.rx,
                          detect_multiplier=args.multiplier, remote_port=port,
                          minimum_ttl=args.minimum_ttl)


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _main(args) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per session
    engine = BfdEngine(port=args.port,
                       listen_address=IPv6Address(args.listen) if args.listen else None)
    lines = list(args.session)
    if args.sessions_file:
        with open(args.sessions_file, encoding="utf-8") as f:
            lines += [line.strip() for line in f if line.strip()]
    for text in lines:
        engine.add(_parse_session(text, args))
    flaps = Counter()

    def changed(change) -> None:
        if change.old_state == BfdState.UP:
            flaps["down"] += 1
        if not args.quiet:
            _emit({"change": change.key, "old": change.old_state.label,
                   "new": change.new_state.label, "diagnostic": change.local_diagnostic,
                   "monotonic": change.monotonic})

    engine.listeners.append(changed)
    await engine.start()
    _emit({"ready": engine.port})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if line in ("", "stop"):
            await engine.stop()
            _emit({"stopped": True})
            return
        if line == "status":
            states = Counter(s.local_state.label for s in engine.sessions())
            _emit({"states": states, "downs": flaps["down"], "cpu": _cpu(),
                   "counters": dataclasses.asdict(engine.counters())})
        elif line == "sessions":
            _emit({"sessions": [dataclasses.asdict(s) for s in engine.sessions()]})


REPO = Path(__file__).resolve().parents[1]


class PeerProcess:
    """The client side: starts a peer (optionally under a prefix such as
    ``ip netns exec NS``) and talks to it over its standard input and output."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port

    @classmethod
    async def start(cls, *args: str, prefix: tuple[str, ...] = (), port: int = 0) -> "PeerProcess":
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        process = await asyncio.create_subprocess_exec(
            *prefix, sys.executable, "-m", "tests.bfd_peer", "--port", str(port), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO, env=env)
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            await process.wait()
            raise RuntimeError(f"BFD peer exited with status {process.returncode}")
        return cls(process, json.loads(line)["ready"])

    async def ask(self, command: str, answer_key: str, timeout: float = 10.0) -> dict:
        """Send `command` and return its answer, keeping state-change lines in ``changes``."""
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()
        while True:
            message = await self.next_message(timeout)
            if answer_key in message:
                return message

    async def next_message(self, timeout: float = 10.0) -> dict:
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("BFD peer closed its output")
        return json.loads(line)

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        try:
            self.process.stdin.write(b"stop\n")
            await self.process.stdin.drain()
            await asyncio.wait_for(self.process.wait(), 10)
        except (TimeoutError, ConnectionError):
            self.process.kill()
            await self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4784)
    parser.add_argument("--listen")
    parser.add_argument("--session", action="append", default=[])
    parser.add_argument("--sessions-file")
    parser.add_argument("--tx", type=float, default=0.3)
    parser.add_argument("--rx", type=float, default=0.3)
    parser.add_argument("--multiplier", type=int, default=3)
    parser.add_argument("--minimum-ttl", type=int, default=254)
    parser.add_argument("--quiet", action="store_true", help="no line per state change")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
