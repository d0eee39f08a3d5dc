"""Every event the LMA publishes fits its YANG notification: the management plane's
converter builds and libyang validates each one."""
from __future__ import annotations

import pytest

from mgmt.notify import EventNotifier
from nf.model import new_context
from nf.wire import BindingRevocationAck, BindingRevocationIndication, RevocationTrigger

from .test_lma_harness import LL, MAG1, MAG2, MN, MN_STATIC, Harness, prefixes_of


@pytest.fixture(scope="module")
def notifier():
    notifier = EventNotifier(new_context(), publish=lambda tree: None)
    yield notifier
    notifier.close()


def lma_with_every_event() -> Harness:
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    h.register(MAG1, hi=5, prefixes=[prefix])  # refresh
    h.register(MAG2, hi=3, prefixes=[prefix])  # handover
    h.register(MAG2, mn=MN_STATIC, lifetime=8)
    h.advance(8)  # expiry
    h.lma.begin_revocation(MN, RevocationTrigger.ADMINISTRATIVE_REASON)
    bri = [s.message for s in h.sent if isinstance(s.message, BindingRevocationIndication)][0]
    h.deliver(BindingRevocationAck(status=0, sequence=bri.sequence), MAG2)
    for index in range(4):
        h.register(ll=bytes([2, 0, 0, 0, 1, index]))
    h.register(ll=LL)  # pool exhausted
    h.dataplane.fail_next("apply")
    h.register(mn=MN_STATIC)  # data-path failure
    h.lma.begin_revocation(MN, RevocationTrigger.ADMINISTRATIVE_REASON)
    h.advance(4)  # no BRA for the BRI and its retransmission: revocation failed
    return h


def test_every_lma_event_is_a_valid_notification(notifier):
    events = lma_with_every_event().events.history()
    kinds = {e.kind for e in events}
    assert kinds == {"binding-created", "binding-updated", "binding-deleted", "pool-exhausted", "data-path-failure",
                     "pool-usage-high", "pool-usage-normal", "revocation-failed"}
    for event in events:
        tree = notifier.build(event)
        assert tree is not None, event.kind
        tree.free()


def test_deleted_binding_notification_carries_reason_and_trigger(notifier):
    events = lma_with_every_event().events.history()
    revoked = [e for e in events if e.kind == "binding-deleted" and e.data["reason"] == "revoked"][0]
    body = notifier.build(revoked).print_dict()["binding-deleted"]
    assert (body["reason"], body["revocation-trigger"]) == ("revoked", "administrative-reason")
