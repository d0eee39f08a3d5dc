"""BFD session state machine and timers (RFC 5880 §6.8), two sessions on a fake clock."""
from __future__ import annotations

import random
import statistics

import pytest

from nf.liveness.bfd.packet import AuthSection, BfdState, ControlPacket, Diagnostic, encode
from nf.liveness.bfd.session import BfdSession
from tests.unit.bfd_sim import A_ADDRESS, B_ADDRESS, Link, spec

DOWN, INIT, UP, ADMIN_DOWN = BfdState.DOWN, BfdState.INIT, BfdState.UP, BfdState.ADMIN_DOWN


def up_link(**kwargs) -> Link:
    link = Link.build(**kwargs)
    link.run_for(3.0)
    assert link.a.state == UP and link.b.state == UP
    assert not link.a.polling and not link.b.polling
    return link


def intervals(sent) -> list[float]:
    return [later.time - earlier.time for earlier, later in zip(sent, sent[1:])]


# --- bring-up (§6.2, §6.8.6) ------------------------------------------------------------
def test_a_new_session_starts_down_with_no_diagnostic_and_remote_discriminator_zero():
    link = Link.build()
    assert link.a.state == DOWN
    assert link.a.local_diagnostic == Diagnostic.NO_DIAGNOSTIC
    assert link.a.remote_discriminator == 0
    assert link.a.remote_min_rx_us == 1  # §6.8.1 initial value


def test_three_way_handshake_goes_down_init_up_on_both_sides():
    link = Link.build()
    link.run_for(2.0)
    a_states = [new for _, key, _, new, _ in link.changes if key == "a"]
    b_states = [new for _, key, _, new, _ in link.changes if key == "b"]
    assert a_states[:2] in ([INIT, UP], [UP])
    assert b_states[:2] in ([INIT, UP], [UP])
    assert link.a.remote_discriminator == link.b.local_discriminator
    assert link.b.remote_discriminator == link.a.local_discriminator
    assert link.a.up_count == link.b.up_count == 1


def test_a_state_change_is_sent_at_once_not_at_the_next_periodic_packet():
    link = Link.build()
    link.run_for(0.01)  # both first packets crossed: each went Init and told the other
    assert {link.a.state, link.b.state} <= {INIT, UP}
    assert link.packets_from("a")[1].time < 0.01


def test_packets_are_sent_at_no_less_than_one_second_while_not_up():
    link = Link.build()
    link.up = {"a": True, "b": False}  # b never heard: a stays Down
    link.run_for(20.0)
    sent = link.packets_from("a")
    assert all(s.packet.desired_min_tx_us == 1_000_000 for s in sent)
    gaps = intervals(sent)
    assert min(gaps) >= 0.75 and max(gaps) <= 1.0  # §6.8.7 jitter on the 1 s of §6.8.3


def test_going_up_advertises_the_configured_interval_with_a_poll_sequence():
    link = Link.build()
    link.run_for(0.1)
    first_up = next(s for s in link.packets_from("a") if s.packet.state == UP)
    assert first_up.packet.desired_min_tx_us == 300_000
    assert first_up.packet.poll or first_up.packet.final
    link.run_for(1.0)
    assert not link.a.polling
    assert link.a.tx_interval_us == 300_000


# --- timer negotiation (§6.8.2, §6.8.4, §6.8.7) ------------------------------------------
def test_negotiated_interval_is_the_larger_of_our_desired_tx_and_their_required_rx():
    link = up_link(a_spec=spec("a", A_ADDRESS, B_ADDRESS, desired_min_tx=0.1),
                   b_spec=spec("b", B_ADDRESS, A_ADDRESS, required_min_rx=0.5))
    assert link.a.tx_interval_us == 500_000
    assert link.b.tx_interval_us == 300_000
    start = link.now
    link.run_for(10.0)
    gaps = intervals(link.packets_from("a", since=start))
    assert min(gaps) >= 0.375 - 1e-9 and max(gaps) <= 0.5 + 1e-9


def test_detection_time_is_remote_multiplier_times_larger_of_our_rx_and_their_tx():
    link = up_link(a_spec=spec("a", A_ADDRESS, B_ADDRESS, required_min_rx=0.2),
                   b_spec=spec("b", B_ADDRESS, A_ADDRESS, desired_min_tx=0.4,
                               detect_multiplier=5))
    assert link.a.detection_time_us == 5 * 400_000
    assert link.b.detection_time_us == 3 * 300_000


def test_transmit_jitter_reduces_each_interval_by_0_to_25_percent():
    link = up_link(seed=7)
    start = link.now
    link.run_for(300.0)
    gaps = intervals([s for s in link.packets_from("a", since=start) if not s.packet.final])
    assert min(gaps) >= 0.225 - 1e-9 and max(gaps) <= 0.3 + 1e-9
    assert statistics.mean(gaps) == pytest.approx(0.2625, abs=0.004)  # 12.5 % below, §6.8.7
    assert min(gaps) < 0.23 and max(gaps) > 0.295  # the whole range is used


def test_with_detect_multiplier_1_intervals_are_75_to_90_percent():
    link = up_link(seed=3, a_spec=spec("a", A_ADDRESS, B_ADDRESS, detect_multiplier=1))
    start = link.now
    link.run_for(300.0)
    gaps = intervals([s for s in link.packets_from("a", since=start) if not s.packet.final])
    assert min(gaps) >= 0.225 - 1e-9 and max(gaps) <= 0.27 + 1e-9
    assert statistics.mean(gaps) == pytest.approx(0.2475, abs=0.004)


def test_a_reduced_remote_required_rx_is_honoured_at_once():
    link = up_link(a_spec=spec("a", A_ADDRESS, B_ADDRESS, desired_min_tx=0.05),
                   b_spec=spec("b", B_ADDRESS, A_ADDRESS, required_min_rx=2.0))
    assert link.a.tx_interval_us == 2_000_000
    link.run_for(0.3)  # a's next packet is far off
    link.b.reconfigure(spec("b", B_ADDRESS, A_ADDRESS, required_min_rx=0.05), link.now)
    link.send(link.b, link.b.transmit(link.now))  # the Poll that carries it
    changed = link.now
    link.run_for(0.2)
    after = [s.time for s in link.packets_from("a", since=changed + 0.002)]
    assert after and after[0] - changed <= 0.05 + 0.002  # within the new interval


def test_remote_required_rx_zero_stops_periodic_packets_but_a_poll_is_answered():
    link = up_link()
    link.b.required_min_rx_us = 0  # b wants nothing periodic (§6.8.18)
    link.b._dirty = True
    link.send(link.b, link.b.transmit(link.now))
    link.run_for(0.01)
    link.up["b"] = False  # b silent from now on: nothing more to learn
    quiet_from = link.now
    link.run_for(0.2)
    assert link.packets_from("a", since=quiet_from) == []
    link.deliver(link.a, encode(ControlPacket(
        state=UP, my_discriminator=link.b.local_discriminator,
        your_discriminator=link.a.local_discriminator, poll=True, desired_min_tx_us=300_000,
        required_min_rx_us=0)))
    answer = link.packets_from("a", since=link.now)
    assert len(answer) == 1 and answer[0].packet.final and not answer[0].packet.poll


# --- detection (§6.8.4) -----------------------------------------------------------------
def test_detection_time_expiry_takes_the_session_down_with_diagnostic_1():
    link = up_link()
    link.up["b"] = False  # b's packets are lost from now on
    silenced = link.now
    link.run_for(2.0)
    assert link.a.state == DOWN
    assert link.a.local_diagnostic == Diagnostic.CONTROL_DETECTION_TIME_EXPIRED
    down_at = next(t for t, key, _, new, _ in link.changes if key == "a" and new == DOWN)
    last_heard = max(s.time for s in link.packets_from("b", since=0) if s.time < silenced) + link.delay
    assert down_at - last_heard == pytest.approx(0.9, abs=0.001)
    assert link.a.down_count == 1


def test_detection_time_expiry_resets_remote_discriminator_and_remote_min_rx():
    link = up_link()
    link.up["b"] = False
    link.run_for(2.0)
    assert link.a.remote_discriminator == 0
    assert link.a.remote_min_rx_us == 1
    assert link.packets_from("a")[-1].packet.your_discriminator == 0


def test_silent_peer_coming_back_is_taken_down_with_diagnostic_3():
    link = up_link()
    link.up["b"] = False
    link.run_for(2.0)  # a down with 1; b, still hearing a, learns it from a's Down packet
    assert link.a.local_diagnostic == Diagnostic.CONTROL_DETECTION_TIME_EXPIRED
    b_down = [d for _, key, _, new, d in link.changes if key == "b" and new == DOWN]
    assert b_down == [Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN]
    link.up["b"] = True
    link.run_for(4.0)
    assert link.a.state == UP and link.b.state == UP


def test_no_detection_while_down_before_any_packet():
    link = Link.build()
    link.up = {"a": False, "b": False}
    link.run_for(10.0)
    assert link.changes == []


# --- AdminDown (§6.8.16) and signalled down (§6.8.6) -------------------------------------
def test_received_admin_down_takes_an_up_session_down_with_diagnostic_3():
    link = up_link()
    link.b.admin_down(link.now)
    link.send(link.b, link.b.transmit(link.now))
    link.run_for(0.01)
    assert link.b.state == ADMIN_DOWN
    assert link.a.state == DOWN
    assert link.a.local_diagnostic == Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN


def test_admin_down_sends_diagnostic_7_and_stays_down_whatever_arrives():
    link = up_link()
    link.a.admin_down(link.now)
    link.send(link.a, link.a.transmit(link.now))
    link.run_for(5.0)
    assert link.a.state == ADMIN_DOWN
    last = link.packets_from("a")[-1].packet
    assert (last.state, last.diagnostic) == (ADMIN_DOWN, Diagnostic.ADMINISTRATIVELY_DOWN)
    assert link.b.state == DOWN  # and stays there: it never sees Down or Init from a


def test_admin_down_keeps_sending_at_the_slow_rate():
    link = up_link()
    link.a.admin_down(link.now)
    start = link.now
    link.run_for(10.0)
    gaps = intervals([s for s in link.packets_from("a", since=start) if not s.packet.final])
    assert gaps and min(gaps) >= 0.75 - 1e-9 and max(gaps) <= 1.0 + 1e-9


def test_admin_up_goes_down_and_the_session_comes_up_again():
    link = up_link()
    link.a.admin_down(link.now)
    link.run_for(2.0)
    link.a.admin_up(link.now)
    assert link.a.state == DOWN
    link.run_for(4.0)
    assert link.a.state == UP and link.b.state == UP
    assert link.a.up_count == 2


def test_up_session_receiving_down_with_a_new_discriminator_restarts_with_it():
    link = up_link()
    restarted = BfdSession(spec("b", B_ADDRESS, A_ADDRESS), 0xC0C0, link.now,
                           rng=random.Random(9), wall=lambda: 0.0, on_change=link._record)
    link.b = restarted  # b restarts: new discriminator, state Down, Your Discriminator 0
    link.run_for(5.0)
    assert link.a.remote_discriminator == 0xC0C0
    a_changes = [(new, d) for _, key, _, new, d in link.changes if key == "a"]
    assert (DOWN, Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN) in a_changes
    assert link.a.state == UP and link.b.state == UP


# --- poll sequences (§6.5, §6.8.3) --------------------------------------------------------
def test_a_received_poll_is_answered_at_once_with_final_and_poll_clear():
    link = up_link()
    link.a.polling = True
    link.send(link.a, link.a.transmit(link.now))
    sent_at = link.now
    link.run_for(0.01)
    answer = link.packets_from("b", since=sent_at)[0]
    assert answer.time == pytest.approx(sent_at + link.delay)
    assert answer.packet.final and not answer.packet.poll
    assert not link.a.polling  # the Final ended it


def test_poll_rides_on_the_periodic_packets_not_on_extra_ones():
    link = up_link()
    link.up["b"] = False  # no Final can come back
    link.a.reconfigure(spec("a", A_ADDRESS, B_ADDRESS, required_min_rx=0.6), link.now)
    start = link.now
    link.run_for(0.7)
    sent = link.packets_from("a", since=start)
    assert all(s.packet.poll for s in sent)
    assert min(intervals(sent)) >= 0.225 - 1e-9


def test_increased_desired_tx_while_up_waits_for_the_final():
    link = up_link()
    link.up["b"] = False  # hold the Final back
    link.a.reconfigure(spec("a", A_ADDRESS, B_ADDRESS, desired_min_tx=1.0), link.now)
    assert link.a.desired_min_tx_us == 1_000_000  # advertised at once
    assert link.a.tx_interval_us == 300_000  # but still sending at the old rate
    link.run_for(0.5)
    assert link.packets_from("a")[-1].packet.desired_min_tx_us == 1_000_000
    link.up["b"] = True
    link.run_for(0.5)
    assert not link.a.polling
    assert link.a.tx_interval_us == 1_000_000
    assert link.b.detection_time_us == 3 * 1_000_000
    assert link.a.state == UP and link.b.state == UP


def test_reduced_required_rx_while_up_keeps_the_old_detection_time_until_the_final():
    link = up_link(b_spec=spec("b", B_ADDRESS, A_ADDRESS, desired_min_tx=0.05))
    assert link.a.detection_time_us == 900_000
    link.up["b"] = False
    link.a.reconfigure(spec("a", A_ADDRESS, B_ADDRESS, required_min_rx=0.05), link.now)
    assert link.a.detection_time_us == 900_000
    link.up["b"] = True
    link.run_for(0.7)
    assert not link.a.polling
    assert link.a.detection_time_us == 3 * 50_000
    assert link.b.tx_interval_us == 50_000


def test_reduced_desired_tx_takes_effect_at_once():
    link = up_link(b_spec=spec("b", B_ADDRESS, A_ADDRESS, required_min_rx=0.05))
    link.a.reconfigure(spec("a", A_ADDRESS, B_ADDRESS, desired_min_tx=0.05), link.now)
    assert link.a.tx_interval_us == 50_000
    assert link.a.polling


def test_detect_multiplier_change_needs_no_poll_and_goes_in_the_next_packet():
    link = up_link()
    link.a.reconfigure(spec("a", A_ADDRESS, B_ADDRESS, detect_multiplier=5), link.now)
    assert not link.a.polling
    link.run_for(0.31)
    assert link.packets_from("a")[-1].packet.detect_multiplier == 5
    assert link.b.detection_time_us == 5 * 300_000


def test_a_second_change_during_a_poll_gets_its_own_poll_after_a_packet_without_final():
    link = up_link()
    link.up["b"] = False
    link.a.reconfigure(spec("a", A_ADDRESS, B_ADDRESS, desired_min_tx=0.5), link.now)
    link.run_for(0.1)
    link.a.reconfigure(spec("a", A_ADDRESS, B_ADDRESS, desired_min_tx=0.8), link.now)
    assert link.a.tx_interval_us == 300_000
    link.up["b"] = True
    link.run_for(3.0)
    assert not link.a.polling
    assert link.a.tx_interval_us == 800_000
    polls = [s.time for s in link.packets_from("a") if s.packet.poll]
    finals = [s.time for s in link.packets_from("b") if s.packet.final]
    assert len(finals) >= 2  # two sequences, each acknowledged
    assert polls[-1] > finals[-2]  # the second began after the first one's Final


# --- input the session refuses -------------------------------------------------------------
def test_authenticated_packet_to_an_unauthenticated_session_is_a_mismatch():
    link = up_link()
    forged = ControlPacket(state=UP, my_discriminator=link.b.local_discriminator,
                           your_discriminator=link.a.local_discriminator,
                           authentication=AuthSection(4, bytes.fromhex("041c0100") + bytes(24)))
    received = link.a.packets_received
    reason, send_now = link.a.receive(forged, encode(forged), link.now)
    assert (reason, send_now) == ("authentication-mismatch", False)
    assert link.a.packets_received == received and link.a.packets_dropped == 1
