"""The fault dispatcher: the one place that carries out fault-policy (docs/liveness.md).

Faults arrive as events: `peer-path-down` (RFC 5847 heartbeats unanswered), `data-path-down`
(BFD through the tunnel), `peer-restart` (RFC 5847 Restart Counter changed). For each, the
configured action (`fault-policy/on-path-down`, `on-data-path-failure`, `on-peer-restart`)
is carried out by the role it concerns, and the outcome is published as `fault-action` (a
notification, and an entry of the event history). Alarms are raised by the alarm list from
the fault events themselves, whatever the action.

| action | at an anchor (LMA) | at an access gateway (MAG) |
|---|---|---|
| alarm-only | nothing more | nothing more |
| revoke-bindings | Binding Revocation (RFC 5846) of every binding served through the peer | its sessions with that anchor end here |
| re-register | not applicable: the access gateways register again | fresh Proxy Binding Updates to that anchor |
| failover | not applicable | the sessions register with `mag/standby-lma-address`, and new ones too until a failback |
| reinstall-forwarding | a forwarding audit with repair | a forwarding audit with repair |

Acting twice on one outage (heartbeats and BFD both declare it) is harmless: the second
finds nothing left to move and says `nothing-to-do`.
"""
from __future__ import annotations

import asyncio
import logging
from ipaddress import IPv6Address

from nf.core.events import Event
from nf.wire import RevocationTrigger

log = logging.getLogger(__name__)

POLICY_OF = {  # fault (event kind) -> its fault-policy leaf (nf.settings.FaultPolicySettings)
    "peer-path-down": "on_path_down",
    "data-path-down": "on_data_path_failure",
    "peer-restart": "on_peer_restart",
}
REASON_OF = {"peer-path-down": "path-down", "data-path-down": "path-down", "peer-restart": "peer-restart"}


class FaultDispatcher:
    def __init__(self, runtime) -> None:
        self._runtime = runtime
        self._unsubscribe = runtime.events.subscribe(self._on_fault, set(POLICY_OF))
        self._tasks: set[asyncio.Task] = set()

    def close(self) -> None:
        self._unsubscribe()
        for task in self._tasks:
            task.cancel()

    def _on_fault(self, event: Event) -> None:
        peer_text = event.data.get("peer")
        if not peer_text:
            return
        peer = IPv6Address(str(peer_text))
        action = getattr(self._runtime.settings.fault_policy, POLICY_OF[event.kind])
        outcome, count, detail = self._act(event.kind, peer, action)
        data = {"fault": event.kind, "peer": str(peer), "action": action, "outcome": outcome, "detail": detail}
        if count is not None:
            data["bindings"] = count
        log.info("fault %s of %s: %s -> %s (%s)", event.kind, peer, action, outcome, detail)
        self._runtime.events.publish("fault-action", **data)

    def _act(self, fault: str, peer: IPv6Address, action: str) -> tuple[str, int | None, str]:
        rt = self._runtime
        lma, mag = rt.lma, rt.mag
        reason = REASON_OF[fault]
        if action == "alarm-only":
            return "done", None, "alarm raised; bindings kept"
        if action == "reinstall-forwarding":
            if rt.data_path is None:
                return "not-applicable", None, "no data-path service"
            self._spawn(rt.data_path.auditor.audit(repair=True))
            return "done", None, "forwarding audit with repair started"
        if lma is not None and lma.cache.count_by_mag(peer) > 0:
            if fault == "peer-restart":
                return _counted(lma.on_peer_restart(peer, action), f"{action} for the bindings served through {peer}")
            if action == "revoke-bindings":
                revocation = lma.revoke_all(peer, RevocationTrigger.PER_PEER_POLICY, reason=reason)
                return _counted(len(revocation.bindings) if revocation else 0,
                                f"Binding Revocation sent to {peer} for every binding it serves")
            return "not-applicable", None, f"an anchor does not {action}: its access gateways register again"
        # A MAG fails over from its LMA even with no session there: new sessions must not go to it.
        fails_over = action == "failover" and mag is not None and peer == rt.settings.mag.lma_address
        if mag is not None and (mag.anchored_at(peer) or fails_over):
            if fault == "peer-restart" and action in ("re-register", "revoke-bindings"):
                return _counted(mag.on_lma_restart(peer, action), f"{action} of the sessions anchored at {peer}")
            if action == "revoke-bindings":
                return _counted(mag.release(peer, reason), f"sessions anchored at {peer} ended here")
            if action == "re-register":
                return _counted(mag.reregister(peer), f"Proxy Binding Updates sent again to {peer}")
            if action == "failover":
                standby = rt.settings.mag.standby_lma_address
                if standby is None:
                    return "not-applicable", None, "no standby LMA configured (mag/standby-lma-address)"
                if standby == peer:
                    return "not-applicable", None, f"{peer} is the standby LMA itself"
                was = mag.active_lma_address
                moved = mag.fail_over(peer, standby)
                detail = f"sessions anchored at {peer} moved to {standby}"
                if mag.active_lma_address != was:
                    return "done", moved, f"{detail}; new sessions register with {standby}"
                return _counted(moved, detail)
        return "nothing-to-do", 0, f"no binding served through {peer}"

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _counted(count: int, detail: str) -> tuple[str, int, str]:
    return ("done" if count else "nothing-to-do"), count, detail
