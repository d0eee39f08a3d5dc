"""One BFD session: the state machine and timers of RFC 5880 §6.8, in asynchronous mode.

Pure: no sockets and no clock of its own. The caller passes the monotonic time in seconds
to every method, asks ``wakeup()`` when to call ``on_timer()`` next, sends what
``transmit()`` returns and hands ``receive()`` every packet demultiplexed to the session.
Unit tests drive it on a fake clock.

Timer rules (RFC 5880 §6.8.3): bfd.DesiredMinTxInterval is the configured value while Up
and at least 1 s otherwise; any change of it or of bfd.RequiredMinRxInterval starts a Poll
Sequence. While Up, an increased transmit interval waits for the Final, and so does a
reduced receive interval in the Detection Time; every other change takes effect at once.
A change made while a Poll Sequence runs is carried by its packets but acknowledged only
by a second Poll Sequence, started once a packet without Final has arrived after the
first ended (the third choice of §6.8.3's last paragraph).

Not implemented: Demand mode (§6.6: a received D bit is recorded, and we keep sending
periodically, as a system that does not want Demand mode itself may) and the Echo
function (RFC 5883 §3 forbids it over multiple hops); Required Min Echo RX is sent as 0.
"""
from __future__ import annotations

import math
import random
from typing import Callable

from .auth import MISMATCH, AuthState
from .packet import BfdState, ControlPacket, Diagnostic, encode
from .spec import BfdSessionSpec

SLOW_TX_US = 1_000_000  # RFC 5880 §6.8.3: at least one second while not Up
_EARLY = 0.0005  # a timer that fires this much before its time counts as on time
_NEVER = math.inf

StateListener = Callable[["BfdSession", BfdState, BfdState], None]
"""Called with (session, old state, new state) after each change of bfd.SessionState."""


class BfdSession:
    """The variables of RFC 5880 §6.8.1 for one session, and what changes them."""

    __slots__ = (
        "spec", "key", "state", "remote_state", "local_discriminator", "remote_discriminator",
        "local_diagnostic", "remote_diagnostic", "detect_multiplier", "remote_detect_multiplier",
        "desired_min_tx_us", "required_min_rx_us", "remote_desired_min_tx_us",
        "remote_min_rx_us", "remote_demand", "polling", "final_due", "auth",
        "up_count", "down_count", "last_up", "last_down", "last_change", "last_change_wall",
        "packets_sent", "packets_received", "packets_dropped",
        "_tx_basis_us", "_detect_basis_rx_us", "_repoll", "_await_plain", "_poll_mark", "_rng", "_wall",
        "_on_change", "_next_tx", "_last_tx", "_last_rx", "_detect_armed", "_auth_armed",
        "_cache", "_cache_flags", "_dirty")

    def __init__(self, spec: BfdSessionSpec, local_discriminator: int, now: float, *,
                 rng: random.Random, wall: Callable[[], float],
                 on_change: StateListener | None = None) -> None:
        if not 0 < local_discriminator <= 0xFFFFFFFF:
            raise ValueError(f"local discriminator must be 1-2^32-1: {local_discriminator}")
        self.spec = spec
        self.key = spec.key
        self._rng = rng
        self._wall = wall
        self._on_change = on_change
        # RFC 5880 §6.8.1 initial values.
        self.state = BfdState.DOWN
        self.remote_state = BfdState.DOWN
        self.local_discriminator = local_discriminator
        self.remote_discriminator = 0
        self.local_diagnostic = Diagnostic.NO_DIAGNOSTIC
        self.remote_diagnostic = 0
        self.detect_multiplier = spec.detect_multiplier
        self.remote_detect_multiplier = 0  # none received yet
        self.required_min_rx_us = spec.required_min_rx_us
        self.desired_min_tx_us = max(spec.desired_min_tx_us, SLOW_TX_US)
        self.remote_desired_min_tx_us = 0
        self.remote_min_rx_us = 1
        self.remote_demand = False
        self.auth = AuthState(spec.authentication, rng) if spec.authentication else None
        # The values in force for the transmit interval and the Detection Time, which lag
        # the advertised ones during a Poll Sequence (§6.8.3).
        self._tx_basis_us = self.desired_min_tx_us
        self._detect_basis_rx_us = self.required_min_rx_us
        self.polling = False
        self._repoll = False
        self._await_plain = False
        self._poll_mark = 0
        self.final_due = False
        self.up_count = self.down_count = 0
        self.last_up: float | None = None
        self.last_down: float | None = None
        self.last_change = now
        self.last_change_wall = wall()
        self.packets_sent = self.packets_received = self.packets_dropped = 0
        self._next_tx = now  # the first packet goes at once
        self._last_tx: float | None = None
        self._last_rx: float | None = None
        self._detect_armed = False
        self._auth_armed = False
        self._cache = b""
        self._cache_flags = -1
        self._dirty = True

    # --- derived values --------------------------------------------------------------------
    @property
    def tx_interval_us(self) -> int:
        """The negotiated transmit interval (§6.8.7): the larger of ours and the remote's
        Required Min RX; 0 when the remote wants no periodic packets."""
        if self.remote_min_rx_us == 0:
            return 0
        return max(self._tx_basis_us, self.remote_min_rx_us)

    @property
    def detection_time_us(self) -> int:
        """RFC 5880 §6.8.4, asynchronous mode: the remote's Detect Mult times the larger of
        our Required Min RX and its Desired Min TX; 0 before any packet came."""
        return self.remote_detect_multiplier * max(self._detect_basis_rx_us,
                                                   self.remote_desired_min_tx_us)

    @property
    def poll_in_progress(self) -> bool:
        """A Poll Sequence runs, or a second one waits to start (§6.8.3)."""
        return self.polling or self._await_plain

    def wakeup(self) -> float:
        """When ``on_timer`` is next needed: a transmission or a Detection Time deadline."""
        when = self._next_tx
        if self._detect_armed or self._auth_armed:
            detection = self.detection_time_us / 1e6
            deadline = self._last_rx + (detection if self._detect_armed else 2 * detection)
            if deadline < when:
                when = deadline
        return when

    # --- timers ----------------------------------------------------------------------------
    def detection_due(self, now: float) -> bool:
        """Whether ``on_timer(now)`` would find the Detection Time passed (§6.8.4)."""
        return (self._detect_armed
                and now - self._last_rx + _EARLY >= self.detection_time_us / 1e6)

    def on_timer(self, now: float) -> bytes | None:
        """Apply the Detection Time rules; a packet when the periodic one is due or the
        state just changed (§6.8.7)."""
        before = self.state
        if self._detect_armed or self._auth_armed:
            self._check_detection(now)
        if now + _EARLY >= self._next_tx:
            interval = self.tx_interval_us
            if interval == 0:  # §6.8.7: none periodic while bfd.RemoteMinRxInterval is 0
                self._next_tx = _NEVER
            else:
                self._next_tx = now + self._jittered(interval)
                return self.transmit(now)
        return self.transmit(now) if self.state != before else None

    def _check_detection(self, now: float) -> None:
        detection = self.detection_time_us / 1e6
        silent = now - self._last_rx + _EARLY
        if self._detect_armed and silent >= detection:
            self._detect_armed = False
            # §6.8.1 bfd.RemoteDiscr and §6.8.18 bfd.RemoteMinRxInterval after a Detection
            # Time without a packet; §6.8.4 takes an Init or Up session Down.
            self.remote_discriminator = 0
            self._set_remote_min_rx(1, now)
            self._dirty = True
            if self.state in (BfdState.INIT, BfdState.UP):
                self._change_state(BfdState.DOWN, Diagnostic.CONTROL_DETECTION_TIME_EXPIRED, now)
        if self._auth_armed and silent >= 2 * detection:
            self._auth_armed = False
            self.auth.seq_known = False  # §6.8.1 bfd.AuthSeqKnown after twice the time

    def _jittered(self, interval_us: int) -> float:
        # §6.8.7: reduced by 0-25 %; no more than 90 % when bfd.DetectMult is 1.
        high = 0.9 if self.detect_multiplier == 1 else 1.0
        return interval_us * self._rng.uniform(0.75, high) / 1e6

    # --- transmission ----------------------------------------------------------------------
    def transmit(self, now: float) -> bytes:
        """The next Control packet (§6.8.7), Final when a Poll is being answered, else Poll
        while a Poll Sequence runs; at most one of the two (§6.5)."""
        final = self.final_due
        poll = self.polling and not final
        self.final_due = False
        flags = final << 1 | poll
        auth = self.auth
        if auth is None:
            if self._dirty or flags != self._cache_flags:
                self._cache = encode(self._packet(poll, final))
                self._cache_flags = flags
                self._dirty = False
            data = self._cache
        else:
            if auth.meticulous or self._dirty or flags != self._cache_flags:
                auth.advance()
                self._cache_flags = flags
                self._dirty = False
            data = auth.sign(self._packet(poll, final))
        self._last_tx = now
        self.packets_sent += 1
        return data

    def _packet(self, poll: bool, final: bool) -> ControlPacket:
        return ControlPacket(
            state=self.state, diagnostic=self.local_diagnostic, poll=poll, final=final,
            detect_multiplier=self.detect_multiplier,
            my_discriminator=self.local_discriminator,
            your_discriminator=self.remote_discriminator,
            desired_min_tx_us=self.desired_min_tx_us,
            required_min_rx_us=self.required_min_rx_us, required_min_echo_rx_us=0)

    # --- reception -------------------------------------------------------------------------
    def receive(self, packet: ControlPacket, raw: bytes, now: float) -> tuple[str | None, bool]:
        """RFC 5880 §6.8.6 from the authentication checks on, for a packet already
        demultiplexed to this session. Returns (drop reason or None, send a packet now)."""
        auth = self.auth
        section = packet.authentication
        if (section is None) != (auth is None):
            self.packets_dropped += 1
            return MISMATCH, False
        if auth is not None:
            reason = auth.check(raw[:packet.length], section, packet.detect_multiplier)
            if reason is not None:
                self.packets_dropped += 1
                return reason, False
        self.packets_received += 1
        if self.remote_discriminator != packet.my_discriminator:
            self.remote_discriminator = packet.my_discriminator
            self._dirty = True
        self.remote_state = BfdState(packet.state)
        self.remote_demand = packet.demand
        self.remote_diagnostic = packet.diagnostic
        self.remote_detect_multiplier = packet.detect_multiplier
        self.remote_desired_min_tx_us = packet.desired_min_tx_us
        self._set_remote_min_rx(packet.required_min_rx_us, now)
        if self.polling and packet.final:
            self._end_poll(now)
        elif self._await_plain and not packet.final:
            self._await_plain = self._repoll = False  # the second sequence carries them all
            self.polling = True
            self._poll_mark = self.packets_sent
        self._last_rx = now
        self._detect_armed = True
        self._auth_armed = auth is not None
        send_now = packet.poll
        if packet.poll:
            self.final_due = True
        if self.state == BfdState.ADMIN_DOWN:
            return None, send_now
        before = self.state
        received = packet.state
        if received == BfdState.ADMIN_DOWN:
            if before != BfdState.DOWN:
                self._change_state(BfdState.DOWN, Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN, now)
        elif before == BfdState.DOWN:
            if received == BfdState.DOWN:
                self._change_state(BfdState.INIT, self.local_diagnostic, now)
            elif received == BfdState.INIT:
                self._change_state(BfdState.UP, Diagnostic.NO_DIAGNOSTIC, now)
        elif before == BfdState.INIT:
            if received in (BfdState.INIT, BfdState.UP):
                self._change_state(BfdState.UP, Diagnostic.NO_DIAGNOSTIC, now)
        elif received == BfdState.DOWN:  # Up
            self._change_state(BfdState.DOWN, Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN, now)
        # §6.8.7: a packet between the periodic ones when its contents changed.
        return None, send_now or self.state != before

    def _set_remote_min_rx(self, value_us: int, now: float) -> None:
        if value_us == self.remote_min_rx_us:
            return
        old = self.tx_interval_us
        self.remote_min_rx_us = value_us
        self._retime_tx(old, now)

    def _retime_tx(self, old_interval_us: int, now: float) -> None:
        """A new transmit interval takes effect from the last packet sent (§6.8.3: a
        shorter one is honoured at once, as soon as practicable if already overdue)."""
        new = self.tx_interval_us
        if new == old_interval_us:
            return
        if new == 0:
            self._next_tx = _NEVER
        elif self._last_tx is None:
            self._next_tx = min(self._next_tx, now)
        else:
            self._next_tx = max(now, self._last_tx + self._jittered(new))

    # --- poll sequences and timer changes (§6.5, §6.8.3) -------------------------------------
    def _start_poll(self) -> None:
        if self.polling and self.packets_sent == self._poll_mark:
            pass  # no Poll has left yet: its first packet carries this change too
        elif self.polling or self._await_plain:
            self._repoll = True  # acknowledged by a second sequence, see the module doc
        else:
            self.polling = True
            self._poll_mark = self.packets_sent
        self._dirty = True

    def _end_poll(self, now: float) -> None:
        self.polling = False
        if self._repoll:
            self._repoll = False
            self._await_plain = True
            return
        old = self.tx_interval_us
        self._tx_basis_us = self.desired_min_tx_us
        self._detect_basis_rx_us = self.required_min_rx_us
        self._retime_tx(old, now)

    def _set_desired_min_tx(self, value_us: int, now: float) -> None:
        if value_us == self.desired_min_tx_us:
            return
        old = self.tx_interval_us
        self.desired_min_tx_us = value_us
        if self.state == BfdState.UP:  # an increase waits for the Final
            self._tx_basis_us = min(self._tx_basis_us, value_us)
        else:
            self._tx_basis_us = value_us
        self._retime_tx(old, now)
        self._start_poll()

    def _set_required_min_rx(self, value_us: int) -> None:
        if value_us == self.required_min_rx_us:
            return
        self.required_min_rx_us = value_us
        if self.state == BfdState.UP:  # a reduction waits for the Final
            self._detect_basis_rx_us = max(self._detect_basis_rx_us, value_us)
        else:
            self._detect_basis_rx_us = value_us
        self._start_poll()

    def _advertised_tx_us(self) -> int:
        configured = self.spec.desired_min_tx_us
        return configured if self.state == BfdState.UP else max(configured, SLOW_TX_US)

    def reconfigure(self, spec: BfdSessionSpec, now: float) -> None:
        """New timers, multiplier, authentication, port or minimum hop limit (same key and
        address pair): §6.8.10-§6.8.12."""
        self.spec = spec
        if spec.detect_multiplier != self.detect_multiplier:  # §6.8.12: no Poll needed
            self.detect_multiplier = spec.detect_multiplier
            self._dirty = True
        self._set_required_min_rx(spec.required_min_rx_us)
        self._set_desired_min_tx(self._advertised_tx_us(), now)
        if spec.authentication is None:
            self.auth = None
        elif self.auth is None:
            self.auth = AuthState(spec.authentication, self._rng)
        else:
            self.auth.reconfigure(spec.authentication)
        self._dirty = True

    # --- state changes ---------------------------------------------------------------------
    def _change_state(self, new: BfdState, diagnostic: int, now: float) -> None:
        old = self.state
        self.state = new
        self.local_diagnostic = diagnostic
        self.last_change = now
        wall = self._wall()
        self.last_change_wall = wall
        if new == BfdState.UP:
            self.up_count += 1
            self.last_up = wall
        elif old == BfdState.UP:
            self.down_count += 1
            self.last_down = wall
        self._dirty = True
        self._set_desired_min_tx(self._advertised_tx_us(), now)
        if new != BfdState.UP and self._tx_basis_us != self.desired_min_tx_us:
            # An increase still waiting for a Final applies at once once not Up (§6.8.3).
            old_interval = self.tx_interval_us
            self._tx_basis_us = self.desired_min_tx_us
            self._retime_tx(old_interval, now)
        if self._on_change is not None:
            self._on_change(self, old, new)

    def admin_down(self, now: float,
                   diagnostic: int = Diagnostic.ADMINISTRATIVELY_DOWN) -> None:
        """§6.8.16: disable the session. Packets keep going at the slow rate, which tells
        the remote for well over the Detection Time §6.8.16 asks."""
        if self.state != BfdState.ADMIN_DOWN or self.local_diagnostic != diagnostic:
            self._change_state(BfdState.ADMIN_DOWN, diagnostic, now)

    def admin_up(self, now: float) -> None:
        """§6.8.16: enable the session again: Down, and bring-up starts over."""
        if self.state == BfdState.ADMIN_DOWN:
            self._change_state(BfdState.DOWN, self.local_diagnostic, now)
