"""Benchmark: what keeping the NETCONF server available costs, and what it buys.

A dmm-nf LMA with 2,000 bindings runs in its own process (tests.netconf.filled_lma),
listening on ``::`` so that clients can come from several 127/8 source addresses.

- Login time (ncclient, connect to an open session) with 30 idle TCP connections held open
  from 30 other sources, against none, alternating in the same run. The SSH handshake used to
  run in the accept thread: each idle connection delayed every login by up to 15 s.
- The cost of the request budget on reads, each request timed with the budget and without it
  (the server told between the two), alternating: an unfiltered ``<get>``, a subtree filter
  that walks every binding, an XPath of equalities (evaluated in the server either way), and
  an XPath beyond equalities, evaluated in a worker process with the budget and in the server
  without it.

Run: `.venv/bin/python -m tests.bench.bench_netconf_limits [--quick]`
"""
from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from ncclient import manager
from ncclient.transport import session as nc_session

from tests.bench.bench_netconf import NS, RawSession
from tests.bench.harness import baseline, median, result
from tests.netconf.filled_lma import FilledLma
from tests.netconf.product import ADMIN, lma_config

BINDINGS = 2000
IDLE = 30
nc_session.TICK = 0.002  # ncclient's reader poll; its 0.1 s default would dominate a login

READS = {
    "unfiltered <get>": "<get/>",
    "subtree filter walking every binding": (f'<get><filter type="subtree"><dmm-nf xmlns="{NS}"><binding-cache>'
                                             "<binding><proxy-coa/></binding></binding-cache></dmm-nf></filter></get>"),
    "XPath of equalities": (f'<get><filter type="xpath" xmlns:d="{NS}" select="/d:dmm-nf/d:binding-cache/'
                            "d:binding[d:proxy-coa='2001:db8:ffff::1']\"/></get>"),
    "XPath beyond equalities (a worker with the budget)": (
        f'<get><filter type="xpath" xmlns:d="{NS}" select="/d:dmm-nf/d:binding-cache/'
        "d:binding[starts-with(d:mn-identifier,'mn1')]\"/></get>"),
}


def _login_seconds(port: int) -> float:
    started = time.perf_counter()
    session = manager.connect(host="127.0.0.1", port=port, username=ADMIN[0], password=ADMIN[1],
                              hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=60)
    took = time.perf_counter() - started
    session.close_session()
    return took


def _idle_connections(port: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), source_address=(f"127.0.0.{n}", 0))
            for n in range(2, 2 + IDLE)]


def _logins(server: FilledLma, rounds: int, per_round: int) -> dict:
    alone, beside_idle = [], []
    for _ in range(rounds):
        alone += [_login_seconds(server.port) for _ in range(per_round)]
        held = _idle_connections(server.port)
        try:
            beside_idle += [_login_seconds(server.port) for _ in range(per_round)]
        finally:
            for sock in held:
                sock.close()
    value = median(beside_idle) * 1e3
    return result(f"NETCONF login with {IDLE} idle TCP connections held open", value, "ms",
                  baseline=baseline("login with none", median(alone) * 1e3, "ms"),
                  goal="< 1 s", met=max(beside_idle) < 1.0,
                  notes=f"ncclient connect to an open session, median of {len(beside_idle)}, slowest "
                        f"{max(beside_idle) * 1e3:.0f} ms; the idle connections come from {IDLE} other "
                        "127/8 addresses and are reopened each round (login-timeout 30 s)")


def _budget_cost(server: FilledLma, name: str, body: str, rounds: int) -> dict:
    session = RawSession(server.port)
    try:
        session.request(body)  # warm-up: schema lookups, enum tables, a worker
        times: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(rounds):
            for budget in ((True, False) if round_ % 2 == 0 else (False, True)):  # neither always goes first
                server.budget(budget)
                elapsed, reply = session.request(body)
                assert b"<rpc-error" not in reply, reply[:300]
                times[budget].append(elapsed)
        server.budget(True)
        with_budget, without = times[True], times[False]
    finally:
        session.close()
    return result(f"{name}, {BINDINGS:,} bindings, with the request budget", median(with_budget) * 1e3, "ms",
                  baseline=baseline("the same read without a budget", median(without) * 1e3, "ms"),
                  notes=f"median of {rounds}, alternating with and without (either first in turn); send to last "
                        "reply byte over SSH")


def run(quick: bool = False) -> list[dict]:
    rounds = 4 if quick else 20
    with TemporaryDirectory() as tmp:
        config = lma_config(Path(tmp) / "lma.xml")
        config.write_text(config.read_text().replace("<address>::1</address>\n      <port>", "<address>::</address>\n"
                                                     "      <port>", 1))
        assert "<address>::</address>" in config.read_text(), "the example changed: NETCONF not on ::"
        server = FilledLma(config, Path(tmp) / "state", BINDINGS)
        try:
            records = [_logins(server, rounds=2 if quick else 5, per_round=5)]
            records += [_budget_cost(server, name, body, rounds) for name, body in READS.items()]
        finally:
            server.stop()
    return records


if __name__ == "__main__":
    json.dump(run(quick="--quick" in sys.argv), sys.stdout, indent=2)
    print()
