"""The product's RPCs (module dmm-nf), served by the NETCONF server's `rpc_hook`.

Each handler reads its input from the libyang RPC tree, does its work on the runtime's loop
(`Runtime.call`) and returns the output as a libyang tree, or None for `<ok/>`. An RPC whose
machinery the running node does not have (a MAG operation on an LMA, a check that needs the
kernel data plane) answers `operation-not-supported` — never a fake success.
"""
from __future__ import annotations

import json
from ipaddress import IPv6Address
from typing import Any, Callable, Optional, TypeVar

import libyang

from mgmt.netconf.errors import RpcError, invalid_value, operation_failed, operation_not_supported
from mgmt.yang_values import link_layer_bytes
from nf.liveness.bfd import BfdState, Diagnostic
from nf.liveness.forwarding import mismatch_data
from nf.liveness.self_test import SelfTest
from nf.runtime import Runtime

MODULE = "dmm-nf"
T = TypeVar("T")
Handler = Callable[[dict[str, Any]], Optional[dict[str, Any]]]


AUDIT_LISTED = 1000  # mismatches an audit-forwarding reply lists (the count is complete)
RELOCATION_PROBE_TIMEOUT = 1.0  # seconds a relocation's new anchor has to answer a heartbeat, without BFD


def _check_data(check: dict) -> dict[str, Any]:
    """A path probe's check (as the far end sent it: untrusted JSON) under the YANG names."""
    data = {"node": str(check.get("node", "")), "check": str(check.get("check", "")),
            "as-expected": bool(check.get("ok"))}
    for leaf in ("expected", "actual"):
        if check.get(leaf) is not None:
            data[leaf] = str(check[leaf])[:512]
    return data


def _lookup_data(lookup) -> dict[str, Any]:
    data = {"check": lookup.what, "prefix": str(lookup.prefix), "destination": str(lookup.destination),
            "expected": lookup.expected, "actual": lookup.actual, "as-expected": lookup.ok}
    if lookup.source is not None:
        data["source"] = str(lookup.source)
    if lookup.iif is not None:
        data["input-interface"] = lookup.iif
    return data


class ProductRpcs:
    def __init__(self, ctx: libyang.Context, runtime: Runtime) -> None:
        self.ctx = ctx
        self.runtime = runtime
        self.handlers: dict[str, Handler] = {
            "mn-attach": self.mn_attach,
            "mn-detach": self.mn_detach,
            "revoke-binding": self.revoke_binding,
            "probe-path": self.probe_path,
            "check-forwarding": self.check_forwarding,
            "audit-forwarding": self.audit_forwarding,
            "self-test": self.self_test,
            "relocate-anchor": self.relocate_anchor,
        }

    def __call__(self, name: str, request: libyang.DNode) -> Optional[libyang.DNode]:
        handler = self.handlers.get(name)
        if handler is None:
            raise operation_not_supported(f"{name} is not available in this release of dmm-nf")
        params = request.print_dict(absolute=False).get(name, {})
        output = handler(params)
        if output is None:
            return None
        text = json.dumps({f"{MODULE}:{name}": output}, ensure_ascii=False)
        return self.ctx.parse_op_mem("json", text, libyang.DataType.REPLY_YANG)

    @staticmethod
    def _needs(role: T | None, name: str, rpc: str) -> T:
        """`role` (a runtime accessor's value), or operation-not-supported when the node lacks it."""
        if role is None:
            raise operation_not_supported(f"{rpc}: this node has no {name}")
        return role

    def _run(self, fn: Callable, *args: Any, timeout: float = 10.0) -> Any:
        try:
            return self.runtime.call(fn, *args, timeout=timeout)
        except RpcError:
            raise
        except (ValueError, KeyError, LookupError) as e:
            raise invalid_value(str(e)) from None
        except Exception as e:  # the client gets a clear error; the runtime keeps running
            raise operation_failed(f"{type(e).__name__}: {e}") from None

    def mn_attach(self, p: dict[str, Any]) -> None:
        mag = self._needs(self.runtime.mag, "MAG role", "mn-attach")
        att = p.get("access-technology-type")
        kwargs = {
            "link_layer_id": link_layer_bytes(p.get("link-layer-id", "")),
            "access_technology_type": self._enum_value("mn-attach/input/access-technology-type", att) if att else None,
            "interface": p.get("interface"),
        }
        self._run(lambda: mag.attach(p["mn-identifier"], **kwargs))

    def mn_detach(self, p: dict[str, Any]) -> None:
        mag = self._needs(self.runtime.mag, "MAG role", "mn-detach")
        self._run(lambda: mag.detach(p["mn-identifier"], link_layer_bytes(p.get("link-layer-id", ""))))

    def revoke_binding(self, p: dict[str, Any]) -> dict[str, Any]:
        """RFC 5846: BRI to the serving MAG; the reply waits for its BRA (or the retries' end)."""
        lma = self._needs(self.runtime.lma, "LMA role", "revoke-binding")
        trigger = self._enum_value("revoke-binding/input/trigger", p.get("trigger", "administrative-reason"))
        link_layer_id = link_layer_bytes(p.get("link-layer-id", ""))
        status, revoked = self._run(lambda: lma.revoke_and_wait(p["mn-identifier"], trigger,
                                                                link_layer_id=link_layer_id), timeout=30.0)
        output: dict[str, Any] = {"revoked": revoked}
        if status is not None:
            name = self._enum_name("revoke-binding/output/status", status)
            if name is not None:
                output["status"] = name
        return output

    def probe_path(self, p: dict[str, Any]) -> dict[str, Any]:
        """The path to a peer (heartbeats, its BFD session) or of one mobile node (the same to
        its peer, plus a path probe through the node's own forwarding at both ends)."""
        monitor = self._needs(self.runtime.liveness, "heartbeat monitor", "probe-path")
        count = int(p.get("count", 3))
        timeout = int(p.get("timeout", 1000)) / 1000.0
        mn = p.get("mn-identifier")
        if mn is not None:
            bindings = self._run(lambda: self.runtime.forwarding_of(mn))
            if not bindings:
                raise invalid_value(f"no binding for mobile node {mn!r} on this node",
                                    path=f"/{MODULE}:probe-path/mn-identifier")
            peer = bindings[0].peer
        else:
            peer = IPv6Address(p["peer"])
            if not self._run(lambda: peer in set(monitor.peers()) or peer in self.runtime.settings.peers):
                raise invalid_value(f"{peer} is not a peer of this node", path=f"/{MODULE}:probe-path/peer")
            bindings = []

        async def probe_all() -> tuple[list, object, list]:
            heartbeats = [await monitor.probe(peer, timeout) for _ in range(count)]
            data_path = self.runtime.data_path
            bfd = data_path.bfd.session(peer) if data_path is not None else None
            paths = []
            if bindings and data_path is not None and data_path.prober is not None:
                for binding in bindings:
                    paths += await data_path.prober.probe(binding, timeout)
            return heartbeats, bfd, paths

        heartbeats, bfd, paths = self._run(probe_all, timeout=(count + len(bindings) * 4) * timeout + 5.0)
        rtts = [r.rtt_us for r in heartbeats if r.answered]
        output: dict[str, Any] = {"peer": str(peer), "sent": len(heartbeats), "received": len(rtts)}
        failures = [] if rtts else [f"no Heartbeat Response from {peer}"]
        if rtts:
            output.update({"rtt": sum(rtts) // len(rtts), "rtt-min": min(rtts), "rtt-max": max(rtts)})
        if bfd is not None:
            output["bfd-state"] = bfd.local_state.label
            output["bfd-diagnostic"] = Diagnostic(bfd.local_diagnostic).label
            if bfd.local_state is not BfdState.UP:
                failures.append(f"BFD session with {peer} is {bfd.local_state.label} "
                                f"({Diagnostic(bfd.local_diagnostic).label})")
        if bindings and not paths:
            failures.append("no path probe: this node has no data-path probe address or no kernel data plane")
        for result in paths:
            entry: dict[str, Any] = {"prefix": str(result.prefix), "passed": result.passed,
                                     "check": [_check_data(c) for c in result.checks]}
            if result.rtt_us is not None:
                entry["rtt"] = result.rtt_us
            if result.failure:
                entry["failure"] = result.failure
                failures.append(f"{result.prefix}: {result.failure}")
            output.setdefault("path-probe", []).append(entry)
        output["result"] = "unreachable" if failures else "reachable"
        if failures:
            output["failure"] = "\n".join(failures)
        return output

    def check_forwarding(self, p: dict[str, Any]) -> dict[str, Any]:
        """One mobile node's bindings against the kernel, with lookups as for its packets."""
        data_path = self._needs(self.runtime.data_path, "data-path service", "check-forwarding")
        mn = p["mn-identifier"]
        try:
            check = self._run(lambda: data_path.auditor.check(mn), timeout=30.0)
        except RpcError as error:
            if error.tag == "invalid-value":  # no binding for it
                raise invalid_value(error.message, path=f"/{MODULE}:check-forwarding/mn-identifier") from None
            raise
        tunnels = sorted({b.tunnel.name for b in check.bindings})
        return {
            "consistent": check.consistent,
            "home-network-prefix": [str(prefix) for b in check.bindings for prefix in b.prefixes],
            **({"tunnel": ", ".join(tunnels)} if tunnels else {}),
            "mismatch": [mismatch_data(m, mn if m.bindings else None) for m in check.report.mismatches],
            "kernel-lookup": [_lookup_data(lookup) for lookup in check.lookups],
        }

    def audit_forwarding(self, p: dict[str, Any]) -> dict[str, Any]:
        """Every binding against the kernel; with repair, differences put right and reported."""
        data_path = self._needs(self.runtime.data_path, "data-path service", "audit-forwarding")
        repair = bool(p.get("repair", False))
        report, owners = self._run(lambda: data_path.auditor.audit(repair=repair), timeout=300.0)
        return {
            "checked": report.checked,
            "consistent": report.consistent,
            "repaired": report.repaired,
            "mismatches": len(report.mismatches),
            "duration": int((data_path.auditor.state.last_duration or 0) * 1000),
            "mismatch": [mismatch_data(m, owners.get(i)) for i, m in enumerate(report.mismatches[:AUDIT_LISTED])],
        }

    def self_test(self, p: dict[str, Any]) -> dict[str, Any]:
        """The service end to end (nf/liveness/self_test.py); each step with its time."""
        timeout = self.runtime.settings.self_test.timeout
        steps = self._run(lambda: SelfTest(self.runtime).run(timeout), timeout=8 * timeout + 10.0)
        failed = next((step.name for step in steps if not step.passed), None)
        output: dict[str, Any] = {"result": "fail" if failed else "pass", "check": [
            {"name": step.name, "passed": step.passed, "detail": step.detail, "duration": int(step.duration * 1000)}
            for step in steps]}
        if failed:
            output["failed-step"] = failed
        return output

    def relocate_anchor(self, p: dict[str, Any]) -> dict[str, Any]:
        """At a MAG: the node's sessions registered with another of its anchors (failback
        after a failover); the reply waits until they are registered again, there or, the new
        anchor not accepting, with the previous one. An anchor relocating prefixes (DMM) is
        not built: there it is operation-not-supported."""
        mag = self._needs(self.runtime.mag, "MAG role (an anchor does not relocate prefixes in this release)",
                          "relocate-anchor")
        mn, anchor = p["mn-identifier"], IPv6Address(p["new-anchor"])
        anchors = self.runtime.settings.mag
        if anchor not in (anchors.lma_address, anchors.standby_lma_address):
            raise invalid_value(f"{anchor} is neither mag/lma-address nor mag/standby-lma-address of this node",
                                path=f"/{MODULE}:relocate-anchor/new-anchor")

        async def relocate() -> tuple[str, IPv6Address | None, str | None]:
            present = mag.entry_anchor(mn)
            if present is None:
                return "unknown-mobile-node", None, f"no session of {mn} here"
            if present != anchor:
                problem = await self._path_problem(anchor)
                if problem is not None:
                    return "anchor-unreachable", present, problem
            result, previous = await mag.relocate_and_wait(mn, anchor)
            detail = None if result == "relocated" else \
                f"{anchor} did not accept; the sessions are registered with {previous} again"
            return result, previous, detail

        result, previous, detail = self._run(relocate, timeout=30.0)
        output: dict[str, Any] = {"result": result}
        if previous is not None:
            output["previous-anchor"] = str(previous)
        if detail is not None:
            output["detail"] = detail
        return output

    async def _path_problem(self, peer: IPv6Address) -> str | None:
        """Why the path to `peer` is not usable now, None when it is: its BFD session down or,
        without one, no answer to a Heartbeat Request sent now (periodic heartbeats go only to
        peers with bindings, RFC 5847 §3, so their last state may be old)."""
        data_path = self.runtime.data_path
        bfd = data_path.bfd.session(peer) if data_path is not None else None
        if bfd is not None:
            if bfd.local_state is BfdState.UP:
                return None
            return (f"the data path to {peer} is down (BFD {bfd.local_state.label}, "
                    f"{Diagnostic(bfd.local_diagnostic).label})")
        monitor = self.runtime.liveness
        if monitor is not None and not (await monitor.probe(peer, RELOCATION_PROBE_TIMEOUT)).answered:
            return f"no Heartbeat Response from {peer} within {RELOCATION_PROBE_TIMEOUT:g} s"
        return None

    def _enums(self, rpc_path: str) -> dict[str, int]:
        """Name -> value of an RPC parameter's enumeration; rpc_path is 'rpc/input|output/leaf'."""
        rpc_name, direction, leaf = rpc_path.split("/")
        rpc = next(self.ctx.find_path(f"/{MODULE}:{rpc_name}"))
        params = rpc.input() if direction == "input" else rpc.output()
        node = next(c for c in params if c.name() == leaf)
        return {e.name(): e.value() for e in node.type().enums()}

    def _enum_name(self, rpc_path: str, value: int) -> str | None:
        return next((name for name, v in self._enums(rpc_path).items() if v == value), None)

    def _enum_value(self, rpc_path: str, name: str) -> int:
        value = self._enums(rpc_path).get(name)
        if value is None:
            raise invalid_value(f"unknown value {name!r}")
        return value
