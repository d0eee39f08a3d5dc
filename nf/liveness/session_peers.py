"""The peers this node has PMIPv6 sessions with, kept across restarts (RFC 5847 §3.2).

A node that restarts without its sessions SHOULD send an unsolicited Heartbeat Response
with its new Restart Counter to every peer it had sessions with, "possible only when the
PMIPv6 node is capable of storing information about the peers across reboots". This file
is that store: one address per line in the state directory, rewritten (atomically) only
when the set changes.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from ipaddress import IPv6Address
from pathlib import Path

from .restart_counter import atomic_write_text

log = logging.getLogger(__name__)

FILE_NAME = "session-peers"


class SessionPeers:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._recorded = self.load()

    def load(self) -> frozenset[IPv6Address]:
        """The peers recorded by the last run (a line that is no address is skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8").split()
        except FileNotFoundError:
            return frozenset()
        except OSError as error:
            log.warning("cannot read %s: %s", self.path, error)
            return frozenset()
        peers = set()
        for line in lines:
            try:
                peers.add(IPv6Address(line))
            except ValueError:
                log.warning("%s: %r is not an IPv6 address; ignored", self.path, line)
        return frozenset(peers)

    def record(self, peers: Iterable[IPv6Address]) -> bool:
        """Store `peers` if they differ from what is stored; returns whether it wrote."""
        wanted = frozenset(peers)
        if wanted == self._recorded:
            return False
        try:
            atomic_write_text(self.path, "".join(f"{address}\n" for address in sorted(wanted)))
        except OSError as error:  # a full disk must not stop signalling
            log.warning("cannot write %s: %s", self.path, error)
            return False
        self._recorded = wanted
        return True
