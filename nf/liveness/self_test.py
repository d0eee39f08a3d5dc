"""Self-test: exercise the service end to end and say which step failed (RFC 7429 REQ6 asks a
mobility system to test that the service works).

At an access gateway (MAG) it registers a reserved test mobile node, as a real attach does
but with no Router Advertisement (it is on no link, and the real nodes of the link must not
take its prefix), and walks it through the service:

1. register — the anchor accepts it and assigns its prefix;
2. forwarding — its binding against the kernel (the forwarding audit of one node);
3. anchor-binding and data-path — a path probe through its own forwarding at both ends; the
   anchor answers a probe only for a prefix it holds bound to this gateway, so an answer is
   also the proof that the anchor holds the binding;
4. deregister — the anchor acknowledges the de-registration.

Steps stop at the first failure; a registered test node is de-registered whatever happened.
At an anchor (LMA), with no node of its own to register, it checks what it can alone: the
signalling socket, the forwarding audit, a heartbeat answer from every configured peer, and
every BFD session up.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    passed: bool
    detail: str
    duration: float  # seconds


class SelfTest:
    def __init__(self, runtime, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rt = runtime
        self._clock = clock

    async def run(self, timeout: float) -> list[Step]:
        if self._rt.mag is not None:
            return await self._access_gateway(timeout)
        return await self._anchor(timeout)

    # ----- at a MAG ------------------------------------------------------------------------
    async def _access_gateway(self, timeout: float) -> list[Step]:
        rt, mag = self._rt, self._rt.mag
        mn = rt.settings.self_test.mn_identifier or f"self-test.{rt.settings.node.name}@invalid"
        steps: list[Step] = []
        registered = False
        try:
            step, registered = await self._timed("register", lambda: self._register(mn, timeout))
            steps.append(step)
            if not step.passed:
                return steps
            step, _ = await self._timed("forwarding", lambda: self._forwarding(mn))
            steps.append(step)
            if not step.passed:
                return steps
            steps += await self._data_path(mn, timeout)
            return steps
        finally:
            if registered:
                step, _ = await self._timed("deregister", lambda: self._deregister(mn, timeout))
                steps.append(step)
            elif mag.entry(mn) is not None:
                mag.detach(mn)  # a registration still under way: leave nothing behind

    async def _register(self, mn: str, timeout: float) -> tuple[bool, str, bool]:
        """(passed, detail, registered)."""
        rt = self._rt
        outcome = self._outcome(mn, {"binding-created", "binding-deleted"})
        rejections = rt.mag.counters.pba_rejected_by_status.copy()
        entry = rt.mag.attach(mn, advertise=False)
        try:
            event = await asyncio.wait_for(outcome, timeout)
        except asyncio.TimeoutError:
            return False, f"no Proxy Binding Acknowledgement from {entry.lma_address} within {timeout:g} s", False
        if event.kind == "binding-deleted":
            statuses = sorted((rt.mag.counters.pba_rejected_by_status - rejections).elements())
            status = f" with status {statuses[-1]}" if statuses else ""
            return False, (f"the anchor {entry.lma_address} refused the test node {mn}{status} "
                           f"({event.data.get('reason')}): its policy store must admit {mn}"), False
        prefixes = ", ".join(event.data.get("home-network-prefix", []) or ())
        return True, f"registered {mn} with {entry.lma_address}: prefix {prefixes}", True

    async def _forwarding(self, mn: str) -> tuple[bool, str, None]:
        check = await self._rt.data_path.auditor.check(mn)
        if check.consistent:
            return True, f"{len(check.lookups)} kernel lookups as for its packets found its routes", None
        wrong = [f"{m.kind.value} {m.object}" for m in check.report.mismatches]
        wrong += [f"{c.what}: {c.actual}" for c in check.lookups if not c.ok]
        return False, "; ".join(wrong), None

    async def _data_path(self, mn: str, timeout: float) -> list[Step]:
        data_path = self._rt.data_path
        if data_path.prober is None:
            return [Step("data-path", False, "no path probes: data-path/probe-address is not configured "
                                              "or the data plane is not the kernel's", 0.0)]
        started = self._clock()
        results = []
        for binding in self._rt.forwarding_of(mn):
            results += await data_path.prober.probe(binding, timeout)
        duration = self._clock() - started
        answered = [r for r in results if r.answered]
        anchor = Step("anchor-binding", bool(results) and len(answered) == len(results),
                      "the anchor answered for every prefix of the test node" if answered else
                      "the anchor did not answer a probe for the test node's prefix: it may not hold the binding, "
                      "or the path to it loses packets", duration)
        if not anchor.passed:
            return [anchor]
        failed = [r for r in results if not r.passed]
        data = Step("data-path", not failed,
                    "; ".join(f"{r.prefix}: {r.failure}" for r in failed) or
                    ", ".join(f"{r.prefix} in {r.rtt_us / 1000:.1f} ms" for r in results), duration)
        return [anchor, data]

    async def _deregister(self, mn: str, timeout: float) -> tuple[bool, str, None]:
        outcome = self._outcome(mn, {"binding-deleted"})
        self._rt.mag.detach(mn)
        try:
            event = await asyncio.wait_for(outcome, timeout)
        except asyncio.TimeoutError:
            return False, f"the de-registration was not acknowledged within {timeout:g} s", None
        reason = event.data.get("reason")
        return reason == "deregistered", f"de-registered ({reason})", None

    def _outcome(self, mn: str, kinds: set[str]) -> asyncio.Future:
        """The next event of `kinds` about `mn` (the MAG publishes one per outcome)."""
        future = asyncio.get_running_loop().create_future()

        def on_event(event) -> None:
            if event.data.get("mn-identifier") == mn and not future.done():
                future.set_result(event)
        unsubscribe = self._rt.events.subscribe(on_event, kinds)
        future.add_done_callback(lambda _: unsubscribe())
        return future

    # ----- at an LMA -----------------------------------------------------------------------
    async def _anchor(self, timeout: float) -> list[Step]:
        checks: list[tuple[str, Callable[[], Awaitable]]] = [
            ("signalling", self._signalling), ("forwarding", self._audit),
            ("peers", lambda: self._peers(timeout)), ("data-paths", self._data_paths)]
        steps = []
        for name, check in checks:
            step, _ = await self._timed(name, check)
            steps.append(step)
            if not step.passed:
                break
        return steps

    async def _signalling(self) -> tuple[bool, str, None]:
        transport = self._rt.transport
        if transport is None:
            return False, "the signalling socket is not open", None
        return True, f"listening on [{transport.local_address}]:{transport.local_port}", None

    async def _audit(self) -> tuple[bool, str, None]:
        report, _ = await self._rt.data_path.auditor.audit()
        if report.consistent:
            return True, f"{report.checked} data-plane entries match the kernel", None
        return False, f"{len(report.mismatches)} difference(s), first: {report.mismatches[0].kind.value} " \
                      f"{report.mismatches[0].object}", None

    async def _peers(self, timeout: float) -> tuple[bool, str, None]:
        peers = list(self._rt.settings.peers)
        results = [await self._rt.liveness.probe(peer, timeout) for peer in peers]
        silent = [str(r.address) for r in results if not r.answered]
        if silent:
            return False, f"no Heartbeat Response from {', '.join(silent)}", None
        return True, f"{len(peers)} peer(s) answered heartbeats", None

    async def _data_paths(self) -> tuple[bool, str, None]:
        bfd = self._rt.data_path.bfd
        sessions = {p.peer: bfd.session(p.peer) for p in bfd.peers()}
        down = [f"{peer} ({s.local_state.label})" for peer, s in sessions.items() if s is None or s.local_state != 3]
        if down:
            return False, f"BFD not up with {', '.join(down)}", None
        return True, f"{len(sessions)} BFD session(s) up", None

    async def _timed(self, name: str, check: Callable[[], Awaitable]) -> tuple[Step, object]:
        started = self._clock()
        try:
            passed, detail, extra = await check()
        except Exception as error:  # a step that cannot run has failed, and says why
            passed, detail, extra = False, f"{type(error).__name__}: {error}", None
        return Step(name, passed, detail, self._clock() - started), extra
