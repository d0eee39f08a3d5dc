"""A MAG moving a mobile node's sessions to another of its anchors (relocate-anchor at a MAG:
failback after a failover), on the MAG harness with a fake clock."""
from __future__ import annotations

import asyncio
import dataclasses
from ipaddress import IPv6Address

import pytest

from nf.dataplane.base import RouteKind
from nf.roles.mag import RELOCATION_TIMEOUT
from nf.wire import HandoffIndicator, HandoffIndicatorOption
from tests.protocol.test_mag import HNP, LMA, MN, Harness, base_settings, options_of, registered  # noqa: F401
from tests.waiting import wait_until

STANDBY = IPv6Address("2001:db8::3")


@pytest.fixture
def h(base_settings) -> Harness:
    mag = dataclasses.replace(base_settings.mag, standby_lma_address=STANDBY)
    return Harness(dataclasses.replace(base_settings, mag=mag))


def uplink_anchor(h: Harness) -> IPv6Address:
    return h.dataplane.tunnels[h.dataplane.route(RouteKind.UPLINK, HNP).tunnel].remote


def last_pbu_to(h: Harness):
    return next((m, dst) for m, dst, _ in reversed(h.sent) if m is h.last_pbu())


def test_relocation_sends_a_pbu_with_handoff_indicator_4_and_moves_the_uplink_when_the_new_anchor_accepts(h):
    registered(h)
    [moved] = h.mag.relocate(MN, STANDBY)
    pbu, destination = last_pbu_to(h)
    assert destination == STANDBY and pbu.lifetime > 0
    assert options_of(pbu, HandoffIndicatorOption)[0].value == HandoffIndicator.HANDOFF_STATE_UNKNOWN
    assert uplink_anchor(h) == LMA  # until the new anchor accepts, the node's traffic stays with the old one
    h.answer(src=STANDBY)
    assert (h.mag.entry(MN).lma_address, h.mag.entry(MN).state) == (STANDBY, "registered")
    assert uplink_anchor(h) == STANDBY
    [updated] = [e for e in h.events.history() if e.kind == "binding-updated"]
    assert updated.data["lma-address"] == str(STANDBY)


def test_a_relocation_the_new_anchor_refuses_registers_the_node_with_the_previous_anchor_again(h):
    registered(h)
    h.mag.relocate(MN, STANDBY)
    h.answer(status=129, src=STANDBY)  # administratively prohibited
    pbu, destination = last_pbu_to(h)
    assert destination == LMA
    assert options_of(pbu, HandoffIndicatorOption)[0].value == HandoffIndicator.HANDOFF_STATE_NOT_CHANGED
    assert uplink_anchor(h) == LMA
    h.answer(src=LMA)
    assert (h.mag.entry(MN).lma_address, h.mag.entry(MN).state) == (LMA, "registered")
    assert "binding-deleted" not in h.kinds()  # the node never lost its service


def test_a_relocation_the_new_anchor_does_not_answer_is_abandoned_after_the_relocation_timeout(h):
    registered(h)
    h.mag.relocate(MN, STANDBY)
    pbus = len(h.pbus())
    h.advance(RELOCATION_TIMEOUT - 0.1)
    assert last_pbu_to(h)[1] == STANDBY and len(h.pbus()) > pbus  # retransmitted to the new anchor meanwhile
    h.advance(0.1)
    assert last_pbu_to(h)[1] == LMA and h.mag.entry(MN).lma_address == LMA
    h.answer(src=LMA)
    assert h.mag.entry(MN).state == "registered" and uplink_anchor(h) == LMA


def test_a_late_answer_from_the_abandoned_anchor_is_not_taken(h):
    registered(h)
    h.mag.relocate(MN, STANDBY)
    late = h.last_pbu()
    h.advance(RELOCATION_TIMEOUT)
    h.sent.append((late, STANDBY, None))  # answer the relocation's PBU, not the refresh that followed
    h.answer(src=STANDBY)
    assert h.mag.entry(MN).lma_address == LMA and uplink_anchor(h) == LMA


def test_relocating_to_the_present_anchor_or_a_node_with_no_session_sends_nothing(h):
    registered(h)
    sent = len(h.sent)
    assert h.mag.relocate(MN, LMA) == [] and h.mag.relocate("other@example.net", STANDBY) == []
    assert len(h.sent) == sent


def test_a_session_still_registering_is_not_relocated(h):
    h.mag.attach(MN)
    assert h.mag.relocate(MN, STANDBY) == [] and h.mag.entry(MN).lma_address == LMA


def test_relocate_and_wait_reports_relocated_with_the_previous_anchor(h):
    registered(h)

    async def scenario():
        waiting = asyncio.ensure_future(h.mag.relocate_and_wait(MN, STANDBY))
        await wait_until(lambda: last_pbu_to(h)[1] == STANDBY, "the relocation's update sent")
        h.answer(src=STANDBY)
        return await waiting
    assert asyncio.run(scenario()) == ("relocated", LMA)


def test_relocate_and_wait_reports_anchor_unreachable_once_the_node_is_back_with_its_previous_anchor(h):
    registered(h)

    async def scenario():
        waiting = asyncio.ensure_future(h.mag.relocate_and_wait(MN, STANDBY))
        await wait_until(lambda: last_pbu_to(h)[1] == STANDBY, "the relocation's update sent")
        h.answer(status=129, src=STANDBY)
        h.answer(src=LMA)
        return await waiting
    assert asyncio.run(scenario()) == ("anchor-unreachable", LMA)
    assert h.mag.entry(MN).lma_address == LMA


def test_relocate_and_wait_for_an_unknown_node_or_the_present_anchor_answers_at_once(h):
    registered(h)
    assert asyncio.run(h.mag.relocate_and_wait("other@example.net", STANDBY)) == ("unknown-mobile-node", None)
    assert asyncio.run(h.mag.relocate_and_wait(MN, LMA)) == ("relocated", LMA)


def test_a_failover_during_a_relocation_ends_the_relocation(h):
    registered(h)
    h.mag.relocate(MN, STANDBY)
    assert h.mag.fail_over(STANDBY, LMA) == 1  # the new anchor fails before it answers
    h.advance(RELOCATION_TIMEOUT)  # no abandonment to carry out any more
    assert last_pbu_to(h)[1] == LMA and h.mag.entry(MN).lma_address == LMA


def test_relocating_a_node_back_to_the_lma_after_a_failover_sends_new_sessions_there_again(h):
    registered(h)
    h.mag.fail_over(LMA, STANDBY)
    h.answer(src=STANDBY)
    assert h.mag.active_lma_address == STANDBY
    h.mag.relocate(MN, LMA)
    assert h.mag.active_lma_address == STANDBY  # not before the LMA has accepted
    h.answer(src=LMA)
    assert h.mag.active_lma_address == LMA
    h.mag.attach("mn2@example.net")
    assert h.sent[-1][1] == LMA


def test_relocating_a_node_to_the_standby_by_hand_leaves_new_sessions_with_the_lma(h):
    registered(h)
    h.mag.relocate(MN, STANDBY)
    h.answer(src=STANDBY)
    assert h.mag.active_lma_address == LMA
